//! One expansion module per derive. Each returns the generated items, or, on
//! invalid input, the errors together with a minimal fallback implementation
//! so that other code naming the type does not fail a second time.

pub(crate) mod config;
pub(crate) mod root;
pub(crate) mod stream;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Generics;

use crate::errors::Errors;

/// The path through which generated code reaches the SDK's runtime support.
pub(crate) fn private() -> TokenStream {
    quote!(::sluice::__private::plugin)
}

/// The same path, spanned at `span`: an error about an item built from it
/// (an unsatisfied bound in an impl header) then points at the user's code.
pub(crate) fn private_at(span: Span) -> TokenStream {
    quote_spanned!(span=> ::sluice::__private::plugin)
}

/// The input's generics with `__R: Plugin` appended, for a factory impl.
pub(crate) fn with_root_param(generics: &Generics) -> Generics {
    let p = private();
    let mut generics = generics.clone();
    generics.params.push(syn::parse_quote!(__R: #p::Plugin));
    generics
}

/// Wraps generated impls in an anonymous const, so that the names they use
/// never clash with the user's.
pub(crate) fn wrap(items: TokenStream) -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #items
        };
    }
}

/// The errors, plus `fallback` (an impl that lets the rest of the crate
/// type-check) when there is one.
pub(crate) fn failed(errors: &Errors, fallback: Option<TokenStream>) -> TokenStream {
    let errors = errors.to_compile_errors();
    let fallback = fallback.map(wrap);
    quote!(#errors #fallback)
}
