//! Named spans of the engine's rare, heavy work (decoding a welcome,
//! building the board and the scene, painting the whole view) in the
//! browser's performance timeline, so that DevTools and the browser
//! benchmark (`end2end/bench/`) see where opening a big board spends its
//! time. Only for work that happens a few times per session: every span
//! leaves an entry in the timeline.

use web_sys::Performance;

/// A span from its creation to its drop, recorded as `whiteboard:<name>`.
pub struct Span {
    name: &'static str,
    performance: Option<Performance>,
}

pub fn span(name: &'static str) -> Span {
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(performance) = &performance {
        let _ = performance.mark(name);
    }
    Span { name, performance }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(performance) = &self.performance {
            let _ = performance
                .measure_with_start_mark(&format!("whiteboard:{}", self.name), self.name);
            performance.clear_marks_with_mark_name(self.name);
        }
    }
}
