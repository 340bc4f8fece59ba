//! Expansion tests: the items generated for small inputs, compared after
//! parsing, and the key items of larger ones.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, parse_quote};

use crate::expand;

/// Token streams compare by their printed form (spacing normalised by parsing).
fn normalized(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("generated code parses as items");
    quote!(#file).to_string()
}

/// Asserts that `generated` holds every one of `items`.
fn assert_contains(generated: &str, items: &[&str]) {
    for item in items {
        assert!(generated.contains(item), "missing `{item}` in:\n{generated}");
    }
}

fn root(input: DeriveInput) -> String {
    normalized(expand::root::derive(&input))
}

#[test]
fn smallest_root_expands_to_plugin_impl_and_entry_point() {
    let generated = root(parse_quote! {
        #[sluice(http = AddHeader)]
        struct Plugin;
    });
    let expected = normalized(quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, unused_qualifications, clippy::all)]
        const _: () = {
            #[automatically_derived]
            impl ::sluice::__private::plugin::Plugin for Plugin {
                type Config = ::sluice::__private::plugin::NoConfig;
                type VmConfig = ::sluice::__private::plugin::NoConfig;
                type Shared = ();

                fn new() -> Self {
                    Self
                }

                fn set_config(&mut self, config: &::sluice::__private::plugin::Rc<Self::Config>) {
                    let _ = config;
                }

                fn set_vm_config(&mut self, config: &::sluice::__private::plugin::Rc<Self::VmConfig>) {
                    let _ = config;
                }

                fn shared(&self) -> &Self::Shared {
                    &()
                }

                fn create_http_context(
                    env: &::sluice::__private::plugin::Env<'_, Self>
                ) -> ::sluice::__private::plugin::Option<
                    ::sluice::__private::plugin::Box<dyn ::sluice::__private::plugin::HttpContext>
                > {
                    ::sluice::__private::plugin::Some(
                        <AddHeader as ::sluice::__private::plugin::NewHttpContext<Self>>::create_http_context(env)
                    )
                }

                fn create_tcp_context(
                    env: &::sluice::__private::plugin::Env<'_, Self>
                ) -> ::sluice::__private::plugin::Option<
                    ::sluice::__private::plugin::Box<dyn ::sluice::__private::plugin::TcpContext>
                > {
                    let _ = env;
                    ::sluice::__private::plugin::None
                }
            }
        };
        ::sluice::main! {
            ::sluice::__private::plugin::register::<Plugin>();
        }
    });
    assert_eq!(generated, expected);
}

#[test]
fn root_with_config_and_shared_fields_fills_them() {
    let generated = root(parse_quote! {
        #[sluice(config = Settings, vm_config = Vm, tcp = Conn, no_main)]
        struct Plugin {
            #[sluice(config)]
            settings: Option<Rc<Settings>>,
            #[sluice(shared)]
            state: Rc<State>,
            ticks: u32,
        }
    });
    assert_contains(
        &generated,
        &[
            "type Config = Settings ;",
            "type VmConfig = Vm ;",
            "type Shared = Rc < State > ;",
            "settings : < Option < Rc < Settings > > as :: sluice :: __private :: plugin :: Default > :: default ()",
            "ticks : < u32 as :: sluice :: __private :: plugin :: Default > :: default ()",
            "self . settings = :: sluice :: __private :: plugin :: ConfigField :: from_config (config) ;",
            "& self . state",
            "< Conn as :: sluice :: __private :: plugin :: NewTcpContext < Self > > :: create_tcp_context (env)",
        ],
    );
    // No vm_config field: the VM configuration is parsed but not stored in the struct.
    assert!(generated.contains("fn set_vm_config (& mut self , config : & :: sluice :: __private :: plugin :: Rc < Self :: VmConfig >) { let _ = config ; }"));
    assert!(!generated.contains("main !"), "no_main defines no entry point");
}

#[test]
fn stream_expands_to_a_factory_generic_over_the_root() {
    let generated = normalized(expand::stream::derive(
        &parse_quote! {
            struct Filter {
                #[sluice(config)]
                settings: Rc<Settings>,
                #[sluice(shared)]
                state: Rc<State>,
                #[sluice(context_id)]
                id: u32,
                bytes: usize,
            }
        },
        expand::stream::Kind::Http,
    ));
    assert_contains(
        &generated,
        &[
            "impl < __R : :: sluice :: __private :: plugin :: Plugin > :: sluice :: __private :: plugin :: NewHttpContext < __R > for Filter",
            "Rc < Settings > : :: sluice :: __private :: plugin :: ConfigField < < __R as :: sluice :: __private :: plugin :: Plugin > :: Config >",
            "__R : :: sluice :: __private :: plugin :: Plugin < Shared = Rc < State > >",
            "settings : < Rc < Settings > as :: sluice :: __private :: plugin :: ConfigField < _ > > :: from_config (env . config ())",
            "state : :: sluice :: __private :: plugin :: Clone :: clone (env . shared ())",
            "id : { let id : u32 = env . context_id () ; id }",
            "bytes : < usize as :: sluice :: __private :: plugin :: Default > :: default ()",
        ],
    );
}

#[test]
fn config_struct_reads_each_field_by_its_json_name() {
    let generated = normalized(expand::config::derive(&parse_quote! {
        #[sluice(rename_all = "camelCase", deny_unknown_fields)]
        struct Settings {
            metric_prefix: String,
            #[sluice(default = 5)]
            max_age: u32,
            #[sluice(default, rename = "dims")]
            extra: Vec<String>,
        }
    }));
    assert_contains(
        &generated,
        &[
            "let object = :: sluice :: __private :: plugin :: object (value) ? ;",
            "deny_unknown_fields (object , & [\"metricPrefix\" , \"maxAge\" , \"dims\"]) ? ;",
            "metric_prefix : :: sluice :: __private :: plugin :: required :: < String > (object , \"metricPrefix\") ?",
            "max_age : match :: sluice :: __private :: plugin :: optional :: < u32 > (object , \"maxAge\") ? { :: sluice :: __private :: plugin :: Some (value) => value , :: sluice :: __private :: plugin :: None => 5 , }",
            ":: sluice :: __private :: plugin :: None => < Vec < String > as :: sluice :: __private :: plugin :: Default > :: default ()",
        ],
    );
}

#[test]
fn config_enum_matches_names() {
    let generated = normalized(expand::config::derive(&parse_quote! {
        enum Direction { Inbound, #[sluice(rename = "out")] Outbound }
    }));
    assert!(generated.contains("match :: sluice :: __private :: plugin :: name (value) ? { \"inbound\" => :: sluice :: __private :: plugin :: Ok (Self :: Inbound) , \"out\" => :: sluice :: __private :: plugin :: Ok (Self :: Outbound) , other => :: sluice :: __private :: plugin :: Err (:: sluice :: __private :: plugin :: Error :: unknown_variant (other , & [\"inbound\" , \"out\"])) , }"), "{generated}");
}

#[test]
fn invalid_input_gives_errors_and_a_fallback_impl_only() {
    let generated = expand::stream::derive(
        &parse_quote! {
            #[sluice(bogus)]
            struct Filter { #[sluice(config, config)] a: Rc<u8> }
        },
        expand::stream::Kind::Tcp,
    )
    .to_string();
    assert_eq!(generated.matches("compile_error").count(), 2, "{generated}");
    assert!(generated.contains("NewTcpContext < __R > for Filter"), "{generated}");
    assert!(generated.contains("unreachable"), "{generated}");
    // A root that fails generates no entry point, only a fallback `Plugin` impl.
    let generated = expand::root::derive(&parse_quote!(
        enum Plugin {
            A,
        }
    ))
    .to_string();
    assert!(generated.contains("compile_error") && !generated.contains("main"), "{generated}");
    assert!(generated.contains("Plugin for Plugin") && generated.contains("unreachable"), "{generated}");
}

#[test]
fn a_failed_root_keeps_its_declared_types_in_the_fallback() {
    let generated = normalized(expand::root::derive(&parse_quote! {
        #[sluice(config = Settings, http = Filter, tcp = Conn)]
        struct Plugin<'a, T> {
            #[sluice(shared)]
            state: Rc<State>,
            marker: PhantomData<&'a T>,
        }
    }));
    assert_contains(
        &generated,
        &[
            "compile_error ! { \"`#[derive(RootContext)]` expects `http = Type` or `tcp = Type`, not both",
            "compile_error ! { \"`#[derive(RootContext)]` expects a type without generic parameters",
            "impl < 'a , T > :: sluice :: __private :: plugin :: Plugin for Plugin < 'a , T > where 'a : 'static , T : 'static",
            "type Config = Settings ;",
            "type VmConfig = :: sluice :: __private :: plugin :: NoConfig ;",
            "type Shared = Rc < State > ;",
        ],
    );
    assert!(!generated.contains("main !"), "a failed root defines no entry point");
}
