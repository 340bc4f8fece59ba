//! `#[derive(RootContext)]`: implements `Plugin` for the root type (its
//! configuration types, construction, shared state and stream factories)
//! and defines the module's entry point. On invalid input: the errors and a
//! `Plugin` impl with the declared types and unreachable bodies, so that code
//! naming the root (`Root<Plugin>` in a callout handler) is not reported
//! again; no entry point.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use super::{failed, private, private_at, wrap};
use crate::ast::{self, Struct};
use crate::attr::{self, CONFIG, HTTP, NO_MAIN, SHARED, TCP, VM_CONFIG};
use crate::check;
use crate::errors::Errors;

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let parsed = ast::context_struct(input, "RootContext", attr::ROOT_STRUCT, attr::ROOT_FIELD, &mut errors);
    let Some(root) = parsed else { return failed(&errors, Some(fallback(input, None))) };
    check::one_stream_kind(&root, &mut errors);
    check::role_needs_type(&root, CONFIG, &mut errors);
    check::role_needs_type(&root, VM_CONFIG, &mut errors);
    let config_field = check::role(&root.fields, CONFIG, &mut errors);
    let vm_config_field = check::role(&root.fields, VM_CONFIG, &mut errors);
    let shared_field = check::role(&root.fields, SHARED, &mut errors);
    for field in &root.fields {
        let roles = [CONFIG, VM_CONFIG, SHARED].into_iter().filter(|r| field.attrs.has(r)).count();
        if roles > 1 {
            errors.spanned(field.ident, "a field can have only one of `config`, `vm_config` and `shared`");
        }
    }
    if !errors.is_empty() {
        return failed(&errors, Some(fallback(input, Some(&root))));
    }

    let p = private();
    let ident = root.ident;
    let Types { config: config_ty, vm_config: vm_config_ty, shared: shared_ty } = Types::of(Some(&root));
    let set_config = match config_field {
        Some(field) => {
            let name = field.ident;
            quote_spanned!(field.ty.span()=> self.#name = #p::ConfigField::from_config(config);)
        }
        None => quote!(let _ = config;),
    };
    let set_vm_config = match vm_config_field {
        Some(field) => {
            let name = field.ident;
            quote_spanned!(field.ty.span()=> self.#name = #p::ConfigField::from_config(config);)
        }
        None => quote!(let _ = config;),
    };
    let shared = match shared_field {
        Some(field) => {
            let name = field.ident;
            quote!(&self.#name)
        }
        None => quote!(&()),
    };
    let new = constructor(&root, &p);
    let http = stream_factory(&root, HTTP, &p);
    let tcp = stream_factory(&root, TCP, &p);
    let at_ident = private_at(ident.span());
    let impl_plugin = quote_spanned! {ident.span()=>
        #[automatically_derived]
        impl #at_ident::Plugin for #ident
    };
    let items = quote! {
        #impl_plugin {
            type Config = #config_ty;
            type VmConfig = #vm_config_ty;
            type Shared = #shared_ty;

            fn new() -> Self {
                #new
            }

            fn set_config(&mut self, config: &#p::Rc<Self::Config>) {
                #set_config
            }

            fn set_vm_config(&mut self, config: &#p::Rc<Self::VmConfig>) {
                #set_vm_config
            }

            fn shared(&self) -> &Self::Shared {
                #shared
            }

            fn create_http_context(env: &#p::Env<'_, Self>) -> #p::Option<#p::Box<dyn #p::HttpContext>> {
                #http
            }

            fn create_tcp_context(env: &#p::Env<'_, Self>) -> #p::Option<#p::Box<dyn #p::TcpContext>> {
                #tcp
            }
        }
    };
    let mut out = wrap(items);
    if !root.attrs.has(NO_MAIN) {
        out.extend(quote! {
            ::sluice::main! {
                #at_ident::register::<#ident>();
            }
        });
    }
    out
}

/// The associated types of the `Plugin` impl: the declared configuration
/// types (or `NoConfig`) and the shared field's type (or `()`).
struct Types {
    config: TokenStream,
    vm_config: TokenStream,
    shared: TokenStream,
}

impl Types {
    /// From the parsed root; all defaults when the input is not a struct.
    fn of(root: Option<&Struct<'_>>) -> Types {
        let p = private();
        let config = |key: &str| match root.and_then(|r| r.attrs.ty(key)) {
            Some(ty) => quote!(#ty),
            None => quote!(#p::NoConfig),
        };
        // The first `shared` field, as `check::role` takes it.
        let shared = match root.and_then(|r| r.fields.iter().find(|f| f.attrs.has(SHARED))) {
            Some(field) => field.ty.to_token_stream(),
            None => quote!(()),
        };
        Types { config: config(CONFIG), vm_config: config(VM_CONFIG), shared }
    }
}

/// The `Plugin` impl of a root whose input is invalid: the declared types,
/// so that streams and handlers typed on them still check, and bodies that
/// never run (no entry point registers the root).
fn fallback(input: &DeriveInput, root: Option<&Struct<'_>>) -> TokenStream {
    let p = private();
    let ident = &input.ident;
    let Types { config, vm_config, shared } = Types::of(root);
    // `Plugin: 'static`: every generic parameter must be too (a generic root
    // is itself an error, reported already).
    let mut generics = input.generics.clone();
    let bounds: Vec<syn::WherePredicate> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(t) => {
                let t = &t.ident;
                Some(syn::parse_quote!(#t: 'static))
            }
            syn::GenericParam::Lifetime(l) => {
                let l = &l.lifetime;
                Some(syn::parse_quote!(#l: 'static))
            }
            syn::GenericParam::Const(_) => None,
        })
        .collect();
    generics.make_where_clause().predicates.extend(bounds);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        impl #impl_generics #p::Plugin for #ident #ty_generics #where_clause {
            type Config = #config;
            type VmConfig = #vm_config;
            type Shared = #shared;
            fn new() -> Self {
                ::core::unreachable!()
            }
            fn set_config(&mut self, _: &#p::Rc<Self::Config>) {
                ::core::unreachable!()
            }
            fn set_vm_config(&mut self, _: &#p::Rc<Self::VmConfig>) {
                ::core::unreachable!()
            }
            fn shared(&self) -> &Self::Shared {
                ::core::unreachable!()
            }
            fn create_http_context(_: &#p::Env<'_, Self>) -> #p::Option<#p::Box<dyn #p::HttpContext>> {
                ::core::unreachable!()
            }
            fn create_tcp_context(_: &#p::Env<'_, Self>) -> #p::Option<#p::Box<dyn #p::TcpContext>> {
                ::core::unreachable!()
            }
        }
    }
}

/// `Self { field: Default::default(), ... }`, each spanned at its field type
/// so that a type without `Default` is reported there.
fn constructor(root: &Struct<'_>, p: &TokenStream) -> TokenStream {
    if root.unit {
        return quote!(Self);
    }
    let fields = root.fields.iter().map(|f| {
        let (name, ty) = (f.ident, f.ty);
        quote_spanned!(ty.span()=> #name: <#ty as #p::Default>::default())
    });
    quote!(Self { #(#fields,)* })
}

/// The body of `create_http_context` / `create_tcp_context`.
fn stream_factory(root: &Struct<'_>, key: &str, p: &TokenStream) -> TokenStream {
    let Some(ty) = root.attrs.ty(key) else { return quote!(let _ = env; #p::None) };
    let call = if key == HTTP {
        quote_spanned!(ty.span()=> <#ty as #p::NewHttpContext<Self>>::create_http_context(env))
    } else {
        quote_spanned!(ty.span()=> <#ty as #p::NewTcpContext<Self>>::create_tcp_context(env))
    };
    quote!(#p::Some(#call))
}
