//! The one-stream convenience: describe a request and the upstream's
//! response, run them through a plugin, get the outcome.

use crate::error::Error;
use crate::host::Host;
use crate::host::streams::{HttpOutcome, HttpStream};
use crate::spec::PluginId;
use crate::state::headers::HeaderMap;

/// An HTTP request (or response) to send through a plugin: headers, body
/// chunks and optional trailers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Headers (pseudo-headers included).
    pub headers: HeaderMap,
    /// Body chunks, delivered one callback each.
    pub chunks: Vec<Vec<u8>>,
    /// Trailers, if any.
    pub trailers: Option<HeaderMap>,
    /// A request's protocol (`request.protocol`: `HTTP/1.1` unless set, as
    /// [`HttpStream::set_protocol`](crate::HttpStream::set_protocol)).
    pub protocol: Option<String>,
}

/// A request from the client.
pub type Request = Exchange;
/// A response from the upstream.
pub type Response = Exchange;

impl Exchange {
    /// A request with `:method`, `:path`, `:authority` (`example.com`) and `:scheme` (`https`).
    pub fn request(method: &str, path: &str) -> Exchange {
        Exchange {
            headers: HeaderMap::from_pairs([
                (":method", method),
                (":path", path),
                (":authority", "example.com"),
                (":scheme", "https"),
            ]),
            ..Exchange::default()
        }
    }

    /// A `GET` request.
    pub fn get(path: &str) -> Exchange {
        Exchange::request("GET", path)
    }

    /// A `POST` request with a body.
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Exchange {
        Exchange::request("POST", path).body(body)
    }

    /// A response with `:status`.
    pub fn status(code: u16) -> Exchange {
        Exchange { headers: HeaderMap::from_pairs([(":status", code.to_string())]), ..Exchange::default() }
    }

    /// A `200` response.
    pub fn ok() -> Exchange {
        Exchange::status(200)
    }

    /// Adds a header entry.
    pub fn header(mut self, key: &str, value: &str) -> Exchange {
        self.headers.add(key.as_bytes(), value.as_bytes());
        self
    }

    /// Adds a body chunk.
    pub fn body(mut self, chunk: impl Into<Vec<u8>>) -> Exchange {
        self.chunks.push(chunk.into());
        self
    }

    /// Sets the request's protocol (`HTTP/2`, `HTTP/3`...).
    pub fn protocol(mut self, protocol: &str) -> Exchange {
        self.protocol = Some(protocol.to_owned());
        self
    }

    /// Adds a trailer entry.
    pub fn trailer(mut self, key: &str, value: &str) -> Exchange {
        self.trailers.get_or_insert_with(HeaderMap::new).add(key.as_bytes(), value.as_bytes());
        self
    }

    /// Sends this message through `stream` as the request (`response` false)
    /// or the upstream's response: headers, then each body chunk, then the
    /// trailers, with `end_of_stream` on the last of them; stops early once
    /// the stream has ended (a local reply, a reset) or finished.
    pub(crate) fn deliver(&self, stream: &mut impl Drive, response: bool) -> Result<(), Error> {
        // The plugin may have ended the stream as it was created.
        if stream.is_over() {
            return Ok(());
        }
        let end_after_headers = self.chunks.is_empty() && self.trailers.is_none();
        let headers = self.headers.clone();
        if let Some(protocol) = self.protocol.as_deref().filter(|_| !response) {
            stream.set_protocol(protocol)?;
        }
        if response {
            stream.response_headers(headers, end_after_headers)?;
        } else {
            stream.request_headers(headers, end_after_headers)?;
        }
        let n = self.chunks.len();
        for (i, chunk) in self.chunks.iter().enumerate() {
            if stream.is_over() {
                return Ok(());
            }
            let end = i + 1 == n && self.trailers.is_none();
            if response {
                stream.response_body(chunk, end)?;
            } else {
                stream.request_body(chunk, end)?;
            }
        }
        if let Some(trailers) = &self.trailers
            && !stream.is_over()
        {
            if response {
                stream.response_trailers(trailers.clone())?;
            } else {
                stream.request_trailers(trailers.clone())?;
            }
        }
        Ok(())
    }
}

/// What a client and an upstream drive: a stream on one plugin, or on a
/// chain of them.
pub(crate) trait Drive {
    fn is_over(&self) -> bool;
    fn set_protocol(&mut self, protocol: &str) -> Result<(), Error>;
    fn request_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error>;
    fn request_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error>;
    fn request_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error>;
    fn response_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error>;
    fn response_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error>;
    fn response_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error>;
}

macro_rules! drive_impl {
    ($t:ty) => {
        impl Drive for $t {
            fn is_over(&self) -> bool {
                <$t>::is_over(self)
            }
            fn set_protocol(&mut self, protocol: &str) -> Result<(), Error> {
                <$t>::set_protocol(self, protocol)
            }
            fn request_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error> {
                <$t>::request_headers(self, headers, end)
            }
            fn request_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error> {
                <$t>::request_body(self, chunk, end)
            }
            fn request_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error> {
                <$t>::request_trailers(self, trailers)
            }
            fn response_headers(&mut self, headers: HeaderMap, end: bool) -> Result<crate::Action, Error> {
                <$t>::response_headers(self, headers, end)
            }
            fn response_body(&mut self, chunk: &[u8], end: bool) -> Result<crate::Action, Error> {
                <$t>::response_body(self, chunk, end)
            }
            fn response_trailers(&mut self, trailers: HeaderMap) -> Result<crate::Action, Error> {
                <$t>::response_trailers(self, trailers)
            }
        }
    };
}
drive_impl!(HttpStream<'_>);
drive_impl!(crate::host::chain::HttpChainStream<'_>);

impl Host {
    /// Runs one request and its response through a chain, as
    /// [`Host::run_http`] does through one plugin.
    pub fn run_http_chain(
        &mut self,
        chain: &crate::host::chain::Chain,
        request: Request,
        response: Response,
    ) -> Result<crate::host::chain::ChainOutcome, Error> {
        let mut stream = self.http_chain_stream(chain)?;
        request.deliver(&mut stream, false)?;
        if !stream.is_over() && stream.upstream_request().end_of_stream {
            response.deliver(&mut stream, true)?;
        }
        stream.complete()
    }

    /// Runs one request and its response through a plugin, like a client and
    /// an upstream would: request headers, body chunks and trailers; then,
    /// if the upstream received the whole request, the response. A local
    /// response or reset ends it early; a stream the plugin keeps paused is
    /// finished as if the client went away. Returns what each side saw.
    pub fn run_http(&mut self, plugin: PluginId, request: Request, response: Response) -> Result<HttpOutcome, Error> {
        let mut stream = self.http_stream(plugin)?;
        request.deliver(&mut stream, false)?;
        if !stream.is_over() && stream.upstream_request().end_of_stream {
            response.deliver(&mut stream, true)?;
        }
        stream.complete()
    }
}
