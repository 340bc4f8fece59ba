//! `#[derive(Config)]`: implements `sluice::json::FromJson`, field by field
//! for a struct (from a JSON object) and by name for an enum of unit
//! variants (from a JSON string).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident};

use super::{failed, private, private_at, wrap};
use crate::ast::{self, ConfigInput, Struct, Variant};
use crate::attr::{Attrs, DEFAULT, DENY_UNKNOWN_FIELDS, Value};
use crate::check;
use crate::errors::Errors;

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let Some(parsed) = ast::config_input(input, &mut errors) else { return failed(&errors, fallback(input)) };
    let body = match &parsed {
        ConfigInput::Struct(s) => struct_body(s, &mut errors),
        ConfigInput::Enum { attrs, variants, .. } => enum_body(attrs, variants, &mut errors),
    };
    if !errors.is_empty() {
        return failed(&errors, fallback(input));
    }
    let p = private();
    let ident = &input.ident;
    let at_ident = private_at(ident.span());
    let impl_from_json = quote_spanned! {ident.span()=>
        #[automatically_derived]
        impl #at_ident::FromJson for #ident
    };
    wrap(quote! {
        #impl_from_json {
            fn from_json(value: &#p::Value) -> #p::Result<Self, #p::Error> {
                #body
            }
        }
    })
}

fn struct_body(input: &Struct<'_>, errors: &mut Errors) -> TokenStream {
    let p = private();
    let case = check::rename_all(&input.attrs, "snake_case", errors);
    let names: Vec<(String, &Ident)> =
        input.fields.iter().map(|f| (check::json_name(f.ident, &f.attrs, &case), f.ident)).collect();
    check::unique_names(&names, "fields", errors);
    let container_default = input.attrs.span(DEFAULT);
    let inits = input.fields.iter().zip(&names).map(|(field, (name, _))| {
        let (ident, ty) = (field.ident, field.ty);
        let default = match field.attrs.get(DEFAULT).map(|a| (&a.value, a.key.span())) {
            Some((Value::Expr(expr), _)) => Some(quote_spanned!(expr.span()=> #expr)),
            Some((_, span)) => Some(quote_spanned!(span=> <#ty as #p::Default>::default())),
            None => container_default.map(|_| quote!(__default.#ident)),
        };
        match default {
            Some(default) => quote_spanned! {ty.span()=>
                #ident: match #p::optional::<#ty>(object, #name)? {
                    #p::Some(value) => value,
                    #p::None => #default,
                }
            },
            None => quote_spanned!(ty.span()=> #ident: #p::required::<#ty>(object, #name)?),
        }
    });
    let deny = input.attrs.has(DENY_UNKNOWN_FIELDS).then(|| {
        let names = names.iter().map(|(n, _)| n);
        quote!(#p::deny_unknown_fields(object, &[#(#names),*])?;)
    });
    let default =
        container_default.map(|span| quote_spanned!(span=> let __default = <Self as #p::Default>::default();));
    quote! {
        let object = #p::object(value)?;
        #deny
        #default
        #p::Ok(Self { #(#inits,)* })
    }
}

fn enum_body(attrs: &Attrs, variants: &[Variant<'_>], errors: &mut Errors) -> TokenStream {
    let p = private();
    let case = check::rename_all(attrs, "snake_case", errors);
    let names: Vec<(String, &Ident)> =
        variants.iter().map(|v| (check::json_name(v.ident, &v.attrs, &case), v.ident)).collect();
    check::unique_names(&names, "variants", errors);
    let arms = names.iter().map(|(name, ident)| quote!(#name => #p::Ok(Self::#ident)));
    let list = names.iter().map(|(name, _)| name);
    quote! {
        match #p::name(value)? {
            #(#arms,)*
            other => #p::Err(#p::Error::unknown_variant(other, &[#(#list),*])),
        }
    }
}

/// On invalid input: `FromJson` with an unreachable body, so that a root
/// naming this type as its configuration is not reported a second time.
fn fallback(input: &DeriveInput) -> Option<TokenStream> {
    let p = private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Some(quote! {
        impl #impl_generics #p::FromJson for #ident #ty_generics #where_clause {
            fn from_json(_: &#p::Value) -> #p::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
        }
    })
}
