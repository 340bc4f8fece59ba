//! Typed access to the VM and plugin configuration bytes.
//!
//! The host announces a configuration's size in `proxy_on_vm_start` /
//! `proxy_on_configure`; [`RootContext::on_vm_start`](crate::RootContext::on_vm_start)
//! and [`RootContext::on_configure`](crate::RootContext::on_configure) receive a
//! [`Configuration`] that reads the bytes only when asked, so a plugin that
//! ignores its configuration does not import the buffer hostcall.

use alloc::string::String;
use alloc::vec::Vec;

use crate::buffers::Buffer;
use crate::error::{Error, Result};
use crate::types::BufferType;

/// A configuration the host offers to a root context: its size, and the bytes
/// on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Configuration {
    buffer: BufferType,
    size: usize,
}

impl Configuration {
    /// The VM configuration of `size` bytes (as announced by `proxy_on_vm_start`).
    pub const fn vm(size: usize) -> Configuration {
        Configuration { buffer: BufferType::VmConfiguration, size }
    }

    /// The plugin configuration of `size` bytes (as announced by `proxy_on_configure`).
    pub const fn plugin(size: usize) -> Configuration {
        Configuration { buffer: BufferType::PluginConfiguration, size }
    }

    /// The size the host announced.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Whether the configuration is empty (no hostcall is needed to read it).
    pub const fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Which buffer holds it: [`BufferType::VmConfiguration`] or
    /// [`BufferType::PluginConfiguration`].
    pub const fn buffer_type(&self) -> BufferType {
        self.buffer
    }

    /// Reads the configuration bytes (empty without a hostcall if the size is 0).
    pub fn bytes(&self) -> Result<Vec<u8>> {
        if self.size == 0 { Ok(Vec::new()) } else { Buffer::new(self.buffer).get(0, self.size) }
    }

    /// Reads the configuration as UTF-8 text (JSON, YAML, ...).
    pub fn text(&self) -> Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| Error::InvalidUtf8)
    }
}

/// Reads the whole VM configuration (meaningful in `on_vm_start`).
pub fn vm_configuration() -> Result<Vec<u8>> {
    Buffer::new(BufferType::VmConfiguration).get(0, usize::MAX)
}

/// Reads the whole plugin configuration (meaningful in `on_configure`).
pub fn plugin_configuration() -> Result<Vec<u8>> {
    Buffer::new(BufferType::PluginConfiguration).get(0, usize::MAX)
}
