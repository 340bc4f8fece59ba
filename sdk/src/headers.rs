//! Header maps: HTTP headers and trailers, gRPC metadata, HTTP-call response
//! headers. Names and values are bytes (non-UTF-8 values work); `&str`
//! conveniences decode them.
//!
//! ```no_run
//! use sluice::headers;
//! if let Some(agent) = headers::REQUEST.get_str("user-agent")? {
//!     headers::REQUEST.add("x-agent-seen", agent)?;
//! }
//! # Ok::<(), sluice::Error>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::ffi;
use crate::map::{self, MapView, Pairs};
use crate::types::MapType;

/// One of the host's header maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderMap(MapType);

/// Request headers (in `on_request_headers`, readable in `on_log`).
pub const REQUEST: HeaderMap = HeaderMap(MapType::HttpRequestHeaders);
/// Request trailers.
pub const REQUEST_TRAILERS: HeaderMap = HeaderMap(MapType::HttpRequestTrailers);
/// Response headers.
pub const RESPONSE: HeaderMap = HeaderMap(MapType::HttpResponseHeaders);
/// Response trailers.
pub const RESPONSE_TRAILERS: HeaderMap = HeaderMap(MapType::HttpResponseTrailers);
/// Initial metadata of a gRPC call or stream being delivered.
pub const GRPC_INITIAL_METADATA: HeaderMap = HeaderMap(MapType::GrpcReceiveInitialMetadata);
/// Trailing metadata of a gRPC call or stream being delivered.
pub const GRPC_TRAILING_METADATA: HeaderMap = HeaderMap(MapType::GrpcReceiveTrailingMetadata);
/// Headers of an HTTP call's response being delivered.
pub const HTTP_CALL_RESPONSE: HeaderMap = HeaderMap(MapType::HttpCallResponseHeaders);
/// Trailers of an HTTP call's response being delivered.
pub const HTTP_CALL_RESPONSE_TRAILERS: HeaderMap = HeaderMap(MapType::HttpCallResponseTrailers);

pub(crate) fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)
}

impl HeaderMap {
    /// The map of the given type.
    pub const fn new(map_type: MapType) -> HeaderMap {
        HeaderMap(map_type)
    }

    /// Which map this is.
    pub const fn map_type(self) -> MapType {
        self.0
    }

    fn id(self) -> u32 {
        self.0.into()
    }

    /// All pairs, in order; names may repeat.
    pub fn pairs(self) -> Result<Pairs> {
        Ok(self.view()?.to_pairs())
    }

    /// All pairs as text; fails with [`Error::InvalidUtf8`] if any is not UTF-8.
    pub fn pairs_str(self) -> Result<Vec<(String, String)>> {
        let view = self.view()?;
        let pairs = view.str_pairs()?;
        Ok(pairs.into_iter().map(|(k, v)| (String::from(k), String::from(v))).collect())
    }

    /// The whole map in one host call, read in place: iterate it, look names
    /// up or borrow it as text ([`MapView::str_pairs`]) without copying each
    /// name and value. The cheapest way to read several headers.
    pub fn view(self) -> Result<MapView> {
        MapView::parse(ffi::get_header_map_pairs(self.id())?)
    }

    /// Replaces the whole map.
    pub fn set_pairs<I, K, V>(self, pairs: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        ffi::set_header_map_pairs(self.id(), &map::serialize(pairs)?)
    }

    /// The map's size as the host reports it (`proxy_get_header_map_size`).
    /// The spec calls it the serialized size; Envoy reports the bytes of every
    /// name and value (`HeaderMap::byteSize()`), without the serialization's
    /// lengths and terminators.
    pub fn serialized_size(self) -> Result<usize> {
        ffi::get_header_map_size(self.id())
    }

    /// The (first) value of `name`, or `None` if absent.
    pub fn get(self, name: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        match ffi::get_header_map_value(self.id(), name.as_ref()) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The (first) value of `name` as text.
    pub fn get_str(self, name: impl AsRef<[u8]>) -> Result<Option<String>> {
        self.get(name)?.map(utf8).transpose()
    }

    /// Adds a value (keeps existing values of the same name).
    pub fn add(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        ffi::add_header_map_value(self.id(), name.as_ref(), value.as_ref())
    }

    /// Sets a value, replacing any existing ones.
    pub fn replace(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        ffi::replace_header_map_value(self.id(), name.as_ref(), value.as_ref())
    }

    /// Removes every value of `name` (succeeds if there is none).
    pub fn remove(self, name: impl AsRef<[u8]>) -> Result<()> {
        ffi::remove_header_map_value(self.id(), name.as_ref())
    }
}
