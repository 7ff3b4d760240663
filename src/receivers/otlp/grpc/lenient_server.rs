//! The OTLP/gRPC export services with a lenient decode. The generated servers decode with prost
//! before a handler runs, so one span with a non-UTF-8 string refused the whole request. These
//! servers route the same paths and apply the same compression and size settings, but decode
//! with [`LenientCodec`]: a message that fails is repaired by [`crate::otlp::lenient`] (its
//! undecodable items dropped) and the handler learns how many from the [`Dropped`] extension.

use crate::otlp::lenient::{self, Signal};
use bytes::{Buf, Bytes};
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::Status;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Items a lenient decode dropped from the request, as a request extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped(pub i64);

/// One OTLP export method, served by handler `H`.
pub trait Method: Send + Sync + 'static {
    const NAME: &'static str;
    type Req: Send + 'static;
    type Resp: prost::Message + Send + 'static;
    type Handler: Send + Sync + 'static;
    /// The request from the message's bytes (tonic's buffer, not copied).
    fn decode(bytes: Bytes) -> Result<Decoded<Self::Req>, Status>;
    fn call(
        handler: Arc<Self::Handler>,
        req: tonic::Request<Self::Req>,
    ) -> BoxFuture<Result<tonic::Response<Self::Resp>, Status>>;
}

/// A decoded request and the items dropped to decode it.
pub struct Decoded<T> {
    pub req: T,
    pub dropped: i64,
}

/// prost's decode; a message that fails is repaired (its undecodable items dropped).
pub fn decode_lenient<T: prost::Message + Default>(
    signal: Signal,
    bytes: &[u8],
) -> Result<Decoded<T>, Status> {
    match T::decode(bytes) {
        Ok(req) => Ok(Decoded { req, dropped: 0 }),
        Err(e) => {
            let repaired = lenient::repair(signal, bytes).ok_or_else(|| {
                Status::invalid_argument(format!("malformed protobuf message: {e}"))
            })?;
            let req = T::decode(&repaired.body[..]).map_err(|e| {
                Status::invalid_argument(format!("malformed protobuf message: {e}"))
            })?;
            Ok(Decoded {
                req,
                dropped: repaired.rejected,
            })
        }
    }
}

pub struct LenientCodec<M>(PhantomData<fn() -> M>);

impl<M> Default for LenientCodec<M> {
    fn default() -> Self {
        LenientCodec(PhantomData)
    }
}

impl<M: Method> Codec for LenientCodec<M> {
    type Encode = M::Resp;
    type Decode = Decoded<M::Req>;
    type Encoder = PlainEncoder<M::Resp>;
    type Decoder = LenientDecoder<M>;

    fn encoder(&mut self) -> Self::Encoder {
        PlainEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        LenientDecoder(PhantomData)
    }
}

pub struct PlainEncoder<T>(PhantomData<fn(T)>);

impl<T: prost::Message> Encoder for PlainEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("response does not encode: {e}")))
    }
}

pub struct LenientDecoder<M>(PhantomData<fn() -> M>);

impl<M: Method> Decoder for LenientDecoder<M> {
    type Item = Decoded<M::Req>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        // tonic holds the whole message in one `BytesMut`: this splits it off without a copy.
        let bytes = src.copy_to_bytes(src.remaining());
        M::decode(bytes).map(Some)
    }
}

/// The export service of method `M`, for `tonic::transport::Server::add_service`.
pub struct LenientServer<M: Method> {
    handler: Arc<M::Handler>,
    max_decoding: usize,
}

impl<M: Method> Clone for LenientServer<M> {
    fn clone(&self) -> Self {
        LenientServer {
            handler: self.handler.clone(),
            max_decoding: self.max_decoding,
        }
    }
}

impl<M: Method> LenientServer<M> {
    pub fn new(handler: Arc<M::Handler>, max_decoding: usize) -> Self {
        LenientServer {
            handler,
            max_decoding,
        }
    }
}

impl<M: Method> tonic::server::NamedService for LenientServer<M> {
    const NAME: &'static str = M::NAME;
}

struct Unary<M: Method>(Arc<M::Handler>);

impl<M: Method> tonic::server::UnaryService<Decoded<M::Req>> for Unary<M> {
    type Response = M::Resp;
    type Future = BoxFuture<Result<tonic::Response<M::Resp>, Status>>;

    fn call(&mut self, request: tonic::Request<Decoded<M::Req>>) -> Self::Future {
        let (metadata, mut extensions, decoded) = request.into_parts();
        extensions.insert(Dropped(decoded.dropped));
        M::call(
            self.0.clone(),
            tonic::Request::from_parts(metadata, extensions, decoded.req),
        )
    }
}

impl<M, B> tower::Service<http::Request<B>> for LenientServer<M>
where
    M: Method,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let export = req
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(M::NAME))
            == Some("/Export");
        if !export {
            return Box::pin(async {
                Ok(Status::unimplemented("no such method").into_http::<tonic::body::Body>())
            });
        }
        let handler = self.handler.clone();
        let max = self.max_decoding;
        Box::pin(async move {
            let mut gzip = EnabledCompressionEncodings::default();
            gzip.enable(CompressionEncoding::Gzip);
            let mut grpc = tonic::server::Grpc::new(LenientCodec::<M>::default())
                .apply_compression_config(gzip, gzip)
                .apply_max_message_size_config(Some(max), None);
            Ok(grpc.unary(Unary::<M>(handler), req).await)
        })
    }
}
