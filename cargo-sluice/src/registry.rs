//! Registry access from the command line's flags.

use host_sim::oci::{Credentials, PullOptions, PullPolicy, Pulled, Reference, Registry};

use crate::cli::RegistryArgs;
use crate::error::Result;

impl RegistryArgs {
    /// The flags' credentials (`None`: the Docker config file's).
    fn credentials(&self) -> Option<Credentials> {
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => {
                Some(Credentials { username: username.clone(), password: password.clone() })
            }
            _ => None,
        }
    }

    /// A session with `reference`'s registry.
    pub fn connect(&self, reference: &Reference) -> Result<Registry> {
        Ok(Registry::connect(reference, self.insecure, self.credentials())?)
    }

    /// Pulls `reference` from the registry (no cache: every digest is
    /// checked against what the registry serves now).
    pub fn pull(&self, reference: &Reference) -> Result<Pulled> {
        let options = PullOptions {
            insecure: self.insecure,
            credentials: self.credentials(),
            cache: None,
            policy: PullPolicy::Always,
        };
        Ok(host_sim::oci::pull(reference, &options)?)
    }
}
