//! `header-decode`: copies JWT claims into request headers, like Istio's
//! `outputClaimToHeaders` and Envoy `jwt_authn`'s `claim_to_headers`, as a
//! Proxy-Wasm plugin written with sluice's derives.
//!
//! On every request it
//!
//! 1. removes client-sent copies of every target header (anti-spoofing),
//!    whether or not a token is present;
//! 2. reads the source header (`authorization: Bearer <jwt>`, or a bare
//!    base64url JSON payload header such as `x-jwt-payload`);
//! 3. takes the JWT's payload segment and decodes it (strict base64url,
//!    padding optional), then parses it as JSON;
//! 4. walks each configured claim path (`realm_access.roles`), renders
//!    strings, numbers, booleans and arrays (joined) as header text, and
//!    sets the target headers;
//! 5. optionally removes the source header;
//! 6. counts `decode_ok` and `decode_failed.<reason>`; on failure it either
//!    passes the request on or answers with a local reply (401 by default,
//!    details `jwt_decode_failed{<reason>}`).
//!
//! It does **not** verify signatures: Envoy's `jwt_authn` filter (or Istio's
//! `RequestAuthentication`) does that before this filter runs. See the
//! README for the configuration, the Envoy and Istio deployment, and how it
//! compares with `outputClaimToHeaders`.
//!
//! The pure parts ([`base64url`], [`token`], [`claims`], [`config`],
//! [`decode`]) touch no host and are unit-tested natively; [`filter`] and
//! the root context below do the hostcalls.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod base64url;
pub mod claims;
pub mod config;
pub mod counters;
pub mod decode;
pub mod filter;
pub mod reason;
pub mod token;

use alloc::rc::Rc;
use core::cell::Cell;

use sluice::{Configuration, RootContext};

use crate::config::Settings;
use crate::counters::Counters;
use crate::filter::Filter;

/// The root context: holds the configuration and the counters it shares
/// with every stream.
#[derive(Debug, sluice::RootContext)]
#[sluice(config = Settings, http = Filter)]
pub struct Plugin {
    #[sluice(config)]
    settings: Option<Rc<Settings>>,
    #[sluice(shared)]
    counters: Rc<Cell<Option<Counters>>>,
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _configuration: Configuration) -> bool {
        // The adaptor only calls this with a configuration that parsed.
        let Some(settings) = &self.settings else { return false };
        match Counters::define(&settings.metric_prefix) {
            Ok(counters) => self.counters.set(Some(counters)),
            Err(e) => {
                sluice::error!("header-decode: cannot define metrics: {e}");
                return false;
            }
        }
        sluice::info!(
            "header-decode: copying {} claim(s) from `{}`, on error: {:?}",
            settings.claims.len(),
            settings.source.header.as_str(),
            settings.on_error,
        );
        true
    }
}
