//! `#[derive(HttpContext)]` and `#[derive(TcpContext)]`: implement the
//! factory trait through which any root context builds this stream context,
//! field by field from what the root shares.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use super::{failed, private, private_at, with_root_param, wrap};
use crate::ast::{self, Struct};
use crate::attr::{self, CONFIG, CONTEXT_ID, SHARED};
use crate::check;
use crate::errors::Errors;

/// Which stream context a derive is for.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Http,
    Tcp,
}

impl Kind {
    fn derive(self) -> &'static str {
        match self {
            Kind::Http => "HttpContext",
            Kind::Tcp => "TcpContext",
        }
    }

    /// The factory trait, its method and the context trait.
    fn paths(self, p: &TokenStream) -> (TokenStream, TokenStream, TokenStream) {
        match self {
            Kind::Http => (quote!(#p::NewHttpContext), quote!(create_http_context), quote!(#p::HttpContext)),
            Kind::Tcp => (quote!(#p::NewTcpContext), quote!(create_tcp_context), quote!(#p::TcpContext)),
        }
    }
}

pub(crate) fn derive(input: &DeriveInput, kind: Kind) -> TokenStream {
    let mut errors = Errors::default();
    let parsed = ast::context_struct(input, kind.derive(), attr::STREAM_STRUCT, attr::STREAM_FIELD, &mut errors);
    let Some(stream) = parsed else { return failed(&errors, Some(fallback(input, kind))) };
    check::role(&stream.fields, CONFIG, &mut errors);
    check::role(&stream.fields, SHARED, &mut errors);
    check::role(&stream.fields, CONTEXT_ID, &mut errors);
    for field in &stream.fields {
        if [CONFIG, SHARED, CONTEXT_ID].into_iter().filter(|r| field.attrs.has(r)).count() > 1 {
            errors.spanned(field.ident, "a field can have only one of `config`, `shared` and `context_id`");
        }
    }
    if !errors.is_empty() {
        return failed(&errors, Some(fallback(input, kind)));
    }
    wrap(factory(&stream, kind, stream.ident.span()))
}

/// The factory impl, generic over the root type `__R`.
fn factory(stream: &Struct<'_>, kind: Kind, span: Span) -> TokenStream {
    let p = private();
    let ident = stream.ident;
    let (factory_trait, method, context_trait) = kind.paths(&p);
    let mut bounds = Vec::new();
    let mut inits = Vec::new();
    for field in &stream.fields {
        let (name, ty) = (field.ident, field.ty);
        let init = if field.attrs.has(CONFIG) {
            bounds.push(quote_spanned!(ty.span()=> #ty: #p::ConfigField<<__R as #p::Plugin>::Config>));
            quote_spanned!(ty.span()=> <#ty as #p::ConfigField<_>>::from_config(env.config()))
        } else if field.attrs.has(SHARED) {
            bounds.push(quote_spanned!(ty.span()=> __R: #p::Plugin<Shared = #ty>));
            quote_spanned!(ty.span()=> #p::Clone::clone(env.shared()))
        } else if field.attrs.has(CONTEXT_ID) {
            quote_spanned!(ty.span()=> { let id: #ty = env.context_id(); id })
        } else {
            quote_spanned!(ty.span()=> <#ty as #p::Default>::default())
        };
        inits.push(quote!(#name: #init));
    }
    let value = if stream.unit { quote!(Self) } else { quote!(Self { #(#inits,)* }) };
    // Spanned at the struct's name: a missing `impl HttpContext for X` is
    // reported there, once.
    let at = private_at(span);
    let (_, _, spanned_context_trait) = kind.paths(&at);
    let boxed =
        quote_spanned!(span=> { let context: #at::Box<dyn #spanned_context_trait> = #at::Box::new(#value); context });
    let impl_factory = quote_spanned! {span=>
        #[automatically_derived]
        impl<__R: #at::Plugin> #factory_trait<__R> for #ident
    };
    quote! {
        #impl_factory where #(#bounds,)* {
            fn #method(env: &#p::Env<'_, __R>) -> #p::Box<dyn #context_trait> {
                let _ = env;
                #boxed
            }
        }
    }
}

/// On invalid input: the factory impl with an unreachable body, so that a
/// root naming this type is not reported a second time.
fn fallback(input: &DeriveInput, kind: Kind) -> TokenStream {
    let p = private();
    let ident = &input.ident;
    let (factory_trait, method, context_trait) = kind.paths(&p);
    let generics = with_root_param(&input.generics);
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let (_, ty_generics, _) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics #factory_trait<__R> for #ident #ty_generics #where_clause {
            fn #method(_: &#p::Env<'_, __R>) -> #p::Box<dyn #context_trait> {
                ::core::unreachable!()
            }
        }
    }
}
