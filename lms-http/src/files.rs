//! Local media over HTTP: `PUT`, `GET` and `HEAD /media/{key}`, the links
//! [`lms_core::media::LocalStorage`] signs when files live in the data
//! folder. The core checks each link (method, key, type, size, expiry);
//! this module moves the bytes: uploads are streamed to disk against the
//! signed length, downloads streamed from disk, with one byte range when
//! asked (what video players send to seek).
//!
//! A bearer token plays no part: whoever holds a valid link may use it,
//! as with S3's presigned URLs, and nobody else.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Either, Full};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use lms_core::Error;
use lms_core::media::LocalStorage;
use tokio::io::{AsyncRead, AsyncSeekExt as _, ReadBuf};

use crate::handlers::Ctx;
use crate::problem::Problem;
use crate::routes::Route;

/// What responses carry: a body in memory, or a file streamed from disk.
pub type ResponseBody = Either<Full<Bytes>, FileBody>;

/// Bytes read from disk per frame.
const CHUNK: usize = 64 * 1024;

/// A file region sent as it is read, [`CHUNK`] bytes at a time.
#[derive(Debug)]
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut buf = vec![0u8; want];
        let mut read = ReadBuf::new(&mut buf);
        let this = &mut *self;
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    // The file shrank under us: end short rather than hang.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file is shorter than announced",
                    ))));
                }
                this.remaining -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Runs a `/media` route.
pub(crate) async fn serve(route: Route, ctx: Ctx<'_>) -> Result<Response<ResponseBody>, Problem> {
    let Some(storage) = ctx.lms().local_storage() else {
        // Files live in a bucket: its own URLs serve them.
        return Err(Error::not_found("files are not stored on this server").into());
    };
    let key = ctx.param("key").to_owned();
    let now = ctx.lms().now();
    let method = ctx.method().as_str().to_owned();
    let grant = storage.authorize(&method, &key, ctx.uri().query(), now)?;
    match route {
        Route::UploadFile => upload(storage, &grant, ctx).await,
        _ => download(storage, &grant.key, &ctx).await,
    }
}

/// `PUT`: the body goes to a temporary file, checked against the signed
/// type and length, and appears under its key only when complete.
async fn upload(
    storage: &LocalStorage,
    grant: &lms_core::media::LocalGrant,
    ctx: Ctx<'_>,
) -> Result<Response<ResponseBody>, Problem> {
    let headers = ctx.headers();
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    // A declared length other than the signed one is refused unread.
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(declared), Some(signed)) = (declared, grant.size)
        && declared != signed
    {
        return Err(Error::forbidden(format!(
            "Content-Length must be the signed {signed} bytes, not {declared}"
        ))
        .into());
    }
    ctx.lms().check_local_put(&grant.key).await?;
    let mut file = storage.begin_put(grant, content_type).await?;
    let mut body = ctx.take_body()?;
    // Large files take long: the limit is on silence between chunks, not on
    // the whole transfer.
    let idle = ctx.app().config().body_read_timeout;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Problem::request_timeout()),
            Ok(None) => break,
            Ok(Some(frame)) => frame.map_err(|e| {
                Problem::bad_request(format!("could not read the request body: {e}"))
            })?,
        };
        if let Ok(data) = frame.into_data() {
            file.write(&data).await?;
        }
    }
    // Again at the end: the lecture may have gone while the bytes came.
    ctx.lms().check_local_put(&grant.key).await?;
    file.finish().await?;
    let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// `GET`/`HEAD`: the object, or the one range asked for.
async fn download(
    storage: &LocalStorage,
    key: &str,
    ctx: &Ctx<'_>,
) -> Result<Response<ResponseBody>, Problem> {
    let Some((mut file, meta)) = storage.open(key).await? else {
        return Err(Error::not_found("no such object").into());
    };
    let size = u64::try_from(meta.size).unwrap_or(0);
    let range = ctx
        .headers()
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| byte_range(v, size));
    let (status, start, length) = match range {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, size),
        Some(Range::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Some(Range::Unsatisfiable) => {
            let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    if start > 0 {
        file.seek(io::SeekFrom::Start(start))
            .await
            .map_err(Error::internal)?;
    }
    let mut response = Response::new(Either::Right(FileBody {
        file,
        remaining: length,
    }));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = meta
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + length - 1))
    {
        headers.insert(CONTENT_RANGE, value);
    }
    // Public keys hold a random id, so a new image is a new URL: the old
    // one never changes. Private links are for one viewer.
    let cache = if key.starts_with("public/") {
        "public, max-age=31536000, immutable"
    } else {
        "private, max-age=300"
    };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Bytes `start..=end`.
    Bytes(u64, u64),
    /// A form this server does not serve (several ranges, other units):
    /// the whole object is sent, as RFC 9110 allows.
    Ignored,
    /// A range wholly past the end: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110, 14.1.2).
fn byte_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // The last n bytes.
        (true, false) => match parse(last) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if size > 0 => Range::Bytes(size.saturating_sub(n), size - 1),
            Some(_) => Range::Unsatisfiable,
            None => Range::Ignored,
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return Range::Ignored;
            };
            let end = if last.is_empty() {
                size.saturating_sub(1)
            } else {
                match parse(last) {
                    Some(end) if end >= start => end.min(size.saturating_sub(1)),
                    _ => return Range::Ignored,
                }
            };
            if start >= size {
                Range::Unsatisfiable
            } else {
                Range::Bytes(start, end)
            }
        }
        (true, true) => Range::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-99", 1000), Range::Bytes(0, 99));
        assert_eq!(byte_range("bytes=900-", 1000), Range::Bytes(900, 999));
        assert_eq!(byte_range("bytes=-100", 1000), Range::Bytes(900, 999));
        assert_eq!(byte_range("bytes=-5000", 1000), Range::Bytes(0, 999));
        assert_eq!(byte_range("bytes=990-5000", 1000), Range::Bytes(990, 999));
        assert_eq!(byte_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 1000), Range::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), Range::Ignored);
        assert_eq!(byte_range("items=0-1", 1000), Range::Ignored);
        assert_eq!(byte_range("bytes=5-1", 1000), Range::Ignored);
        assert_eq!(byte_range("bytes=x-1", 1000), Range::Ignored);
    }
}
