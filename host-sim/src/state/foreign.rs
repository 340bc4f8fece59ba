//! Foreign functions the test registers for `proxy_call_foreign_function`.

use std::collections::HashMap;
use std::fmt;

use crate::types::Status;

/// A host function a plugin can call by name: arguments in, results out.
pub type ForeignFunction = Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, Status> + Send>;

/// The registry of foreign functions of a host.
#[derive(Default)]
pub struct ForeignFunctions {
    functions: HashMap<String, ForeignFunction>,
}

impl fmt::Debug for ForeignFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("ForeignFunctions").field("names", &names).finish()
    }
}

impl ForeignFunctions {
    /// Registers (or replaces) a function.
    pub fn register(&mut self, name: &str, function: ForeignFunction) {
        self.functions.insert(name.to_owned(), function);
    }

    /// Calls a function; unknown names are `NotFound`.
    pub fn call(&mut self, name: &[u8], arguments: &[u8]) -> Result<Vec<u8>, Status> {
        let name = std::str::from_utf8(name).map_err(|_| Status::NotFound)?;
        let function = self.functions.get_mut(name).ok_or(Status::NotFound)?;
        function(arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_calls_by_name() {
        let mut f = ForeignFunctions::default();
        f.register("reverse", Box::new(|a: &[u8]| Ok(a.iter().rev().copied().collect())));
        f.register("fail", Box::new(|_: &[u8]| Err(Status::BadArgument)));
        assert_eq!(f.call(b"reverse", b"abc"), Ok(b"cba".to_vec()));
        assert_eq!(f.call(b"fail", b""), Err(Status::BadArgument));
        assert_eq!(f.call(b"missing", b""), Err(Status::NotFound));
        assert!(format!("{f:?}").contains("reverse"));
    }
}
