//! `wasm-streams`' `ReadableStream` bridges, as far as `server_fn` 0.8 uses
//! them, without `#[wasm_bindgen]` exports (see README.md for why).
//!
//! Both directions follow the Streams standard: a JavaScript stream is read
//! through a default reader, one promise per chunk; a Rust stream becomes a
//! JavaScript one whose `pull` awaits the next item. Nothing here runs in
//! this app (it calls no server function): it is what `server_fn` links.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    QueuingStrategy, ReadableStreamDefaultController, ReadableStreamDefaultReader,
    ReadableStreamReadResult,
};

/// A JavaScript `ReadableStream` on the Rust side.
pub struct ReadableStream {
    raw: web_sys::ReadableStream,
}

impl ReadableStream {
    /// Wraps a JavaScript stream.
    pub fn from_raw(raw: web_sys::ReadableStream) -> Self {
        Self { raw }
    }

    /// A JavaScript stream that yields `stream`'s items. Like `wasm-streams`,
    /// its high-water mark is 0: JavaScript asks for an item only when its
    /// reader wants one, so the Rust stream does the buffering.
    pub fn from_stream<St>(stream: St) -> Self
    where
        St: Stream<Item = Result<JsValue, JsValue>> + 'static,
    {
        let stream: Rc<RefCell<Pin<Box<dyn Stream<Item = _>>>>> =
            Rc::new(RefCell::new(Box::pin(stream)));
        let pull = Closure::<dyn FnMut(ReadableStreamDefaultController) -> Promise>::new(
            move |controller: ReadableStreamDefaultController| {
                let stream = stream.clone();
                future_to_promise(async move {
                    // The standard calls `pull` again only after this promise
                    // settles, so the borrow is never contended.
                    match poll_fn(|cx| stream.borrow_mut().as_mut().poll_next(cx)).await {
                        Some(Ok(chunk)) => controller.enqueue_with_chunk(&chunk)?,
                        Some(Err(error)) => return Err(error),
                        None => controller.close()?,
                    }
                    Ok(JsValue::UNDEFINED)
                })
            },
        );
        let source = Object::new();
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&source, &"pull".into(), &pull.into_js_value());
        let strategy = QueuingStrategy::new();
        strategy.set_high_water_mark(0.0);
        let raw =
            web_sys::ReadableStream::new_with_underlying_source_and_strategy(&source, &strategy)
                .expect_throw("this browser cannot make a ReadableStream");
        Self { raw }
    }

    /// The JavaScript stream.
    pub fn into_raw(self) -> web_sys::ReadableStream {
        self.raw
    }

    /// The stream's chunks, read one by one; dropping the Rust stream
    /// before the end cancels the JavaScript one.
    pub fn into_stream(self) -> IntoStream {
        IntoStream {
            reader: Some(self.raw.get_reader().unchecked_into()),
            read: None,
        }
    }
}

/// The chunks of a JavaScript `ReadableStream` (see
/// [`ReadableStream::into_stream`]).
pub struct IntoStream {
    /// `None` once the stream has ended or failed.
    reader: Option<ReadableStreamDefaultReader>,
    /// The `read()` under way.
    read: Option<JsFuture>,
}

impl Stream for IntoStream {
    type Item = Result<JsValue, JsValue>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(reader) = &this.reader else {
            return Poll::Ready(None);
        };
        let read = this
            .read
            .get_or_insert_with(|| JsFuture::from(reader.read()));
        let Poll::Ready(result) = Pin::new(read).poll(cx) else {
            return Poll::Pending;
        };
        this.read = None;
        match result {
            Ok(result) => {
                let result: ReadableStreamReadResult = result.unchecked_into();
                if result.get_done().unwrap_or(false) {
                    this.reader = None;
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(result.get_value())))
                }
            }
            Err(error) => {
                this.reader = None;
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}

impl Drop for IntoStream {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            // Nobody waits for the cancellation: the promise is dropped.
            let _ = reader.cancel();
        }
    }
}
