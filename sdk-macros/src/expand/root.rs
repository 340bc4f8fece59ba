//! `#[derive(RootContext)]`: implements `Plugin` for the root type (its
//! configuration types, construction, shared state and stream factories)
//! and defines the module's entry point.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
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
    let Some(root) = parsed else { return failed(&errors, None) };
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
        return failed(&errors, None);
    }

    let p = private();
    let ident = root.ident;
    let config_ty = config_type(&root, CONFIG);
    let vm_config_ty = config_type(&root, VM_CONFIG);
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
    let (shared_ty, shared) = match shared_field {
        Some(field) => {
            let (name, ty) = (field.ident, field.ty);
            (quote!(#ty), quote!(&self.#name))
        }
        None => (quote!(()), quote!(&())),
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

/// The declared configuration type, or `NoConfig`.
fn config_type(root: &Struct<'_>, key: &str) -> TokenStream {
    match root.attrs.ty(key) {
        Some(ty) => quote!(#ty),
        None => {
            let p = private();
            quote!(#p::NoConfig)
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
