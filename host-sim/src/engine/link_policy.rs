//! What a host profile links: the [`Policy`] rules the engine applies when
//! it compiles and links a module.

use wasmtime::{ExternType, Module};

use super::Linking;
use crate::error::Error;
use crate::policy::{HostProfile, Policy};

impl Policy {
    /// Refuses a module the profile cannot link (Kong's missing or
    /// differently typed host functions). A module importing a function
    /// Kong registers with its own signature (`KongSupport::OwnSignature`,
    /// `proxy_get_log_level`) with that signature, `(i32, i32) -> i32`,
    /// links there (and traps when it calls it).
    pub fn check_link(profile: HostProfile, module: &Module) -> Result<(), Error> {
        for import in module.imports() {
            if let Some(why) = Policy::import_link_error(profile, import.module(), import.name(), &import.ty()) {
                return Err(Error::Instantiate(format!("host profile {profile:?}: {why}")));
            }
        }
        Ok(())
    }

    /// Why the profile refuses to link one import (see [`Policy::check_link`]).
    pub fn import_link_error(profile: HostProfile, module: &str, name: &str, ty: &ExternType) -> Option<String> {
        if module != "env" {
            return None;
        }
        let own_signature =
            sluice::abi::host_function(name).is_some_and(|f| f.kong == sluice::abi::KongSupport::OwnSignature);
        let kongs_own = || ty.func().is_some_and(|f| f.params().len() == 2 && f.params().all(|p| p.is_i32()));
        profile.link_error(name).filter(|_| !(own_signature && kongs_own()))
    }

    /// How the profile links modules.
    pub fn linking(profile: HostProfile) -> Linking {
        match profile {
            HostProfile::Kong => Linking::Kong,
            _ => Linking::Spec,
        }
    }
}
