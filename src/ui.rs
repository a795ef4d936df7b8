//! State shared between the board page's Leptos views and the canvas engine.
//!
//! The toolbar and panels write the tool and the style; the engine reads them
//! when something is drawn and writes back what the status bar, the people
//! list and the zoom indicator show. Plain reactive signals, so the same types
//! render on the server and hydrate in the browser.

use leptos::prelude::*;

use crate::protocol::{person_colors, BoardId, Person, StrokeKind, PERSON_COLORS};

/// The link a board page was opened with: what its socket connects to, and
/// what the page lets its person do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardLink {
    /// `/b/{id}` (with `#k={key}` once the edit link was rotated): draws.
    Edit(BoardId),
    /// `/v/{token}`: watches, changes nothing.
    View(String),
}

impl BoardLink {
    pub fn is_view(&self) -> bool {
        matches!(self, BoardLink::View(_))
    }
}

/// What the Share button and the board menu's link items ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Copy the link this page was opened with (an edit link with its key,
    /// or the view link).
    ThisLink,
    /// Copy the board's view link (the server makes it on first use).
    ViewLink,
    /// Replace the edit link and copy the new one: the old one stops
    /// working for everyone (this tab included: its connection is refused
    /// and it reconnects with the new key).
    NewEditLink,
}

/// What the history panel asks of the engine: every control of the panel
/// names its action in `data-action` (a version in `data-seq`), and one
/// listener on the panel turns a click into one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAction {
    Open,
    Close,
    /// Show the board as it was after this operation (the live board from
    /// its current number on).
    Show(u64),
    /// Play or pause the replay, and change its speed.
    Play,
    Speed,
    Restore,
    Name,
    /// Export what is shown.
    ExportPng,
    ExportSvg,
    ExportJson,
}

impl HistoryAction {
    /// The action of a control, from its `data-action` (or a version's
    /// button, from its `data-seq`).
    pub fn parse(action: Option<&str>, seq: Option<&str>) -> Option<Self> {
        if let Some(seq) = seq {
            return seq.parse().ok().map(Self::Show);
        }
        Some(match action? {
            "close" => Self::Close,
            "play" => Self::Play,
            "speed" => Self::Speed,
            "restore" => Self::Restore,
            "name" => Self::Name,
            "png" => Self::ExportPng,
            "svg" => Self::ExportSvg,
            "json" => Self::ExportJson,
            _ => return None,
        })
    }
}

/// The active tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Select,
    Hand,
    Pen,
    Eraser,
    Rectangle,
    Ellipse,
    Line,
    Arrow,
    Text,
    /// Points with a fading trail everyone sees; draws nothing.
    Laser,
}

impl Tool {
    /// Every tool in toolbar order.
    pub const ALL: [Tool; 10] = [
        Tool::Select,
        Tool::Hand,
        Tool::Pen,
        Tool::Eraser,
        Tool::Rectangle,
        Tool::Ellipse,
        Tool::Line,
        Tool::Arrow,
        Tool::Text,
        Tool::Laser,
    ];

    /// The accessible name.
    pub fn label(self) -> &'static str {
        match self {
            Tool::Select => "Select",
            Tool::Hand => "Hand",
            Tool::Pen => "Pen",
            Tool::Eraser => "Eraser",
            Tool::Rectangle => "Rectangle",
            Tool::Ellipse => "Ellipse",
            Tool::Line => "Line",
            Tool::Arrow => "Arrow",
            Tool::Text => "Text",
            Tool::Laser => "Laser pointer",
        }
    }

    /// The key that picks the tool (lower case).
    pub fn shortcut(self) -> char {
        match self {
            Tool::Select => 'v',
            Tool::Hand => 'h',
            Tool::Pen => 'p',
            Tool::Eraser => 'e',
            Tool::Rectangle => 'r',
            Tool::Ellipse => 'o',
            Tool::Line => 'l',
            Tool::Arrow => 'a',
            Tool::Text => 't',
            Tool::Laser => 'k',
        }
    }

    pub fn from_shortcut(key: &str) -> Option<Tool> {
        Tool::ALL
            .into_iter()
            .find(|tool| key.chars().eq(std::iter::once(tool.shortcut())))
    }

    /// The kind of stroke a shape tool drags out.
    pub fn shape_kind(self) -> Option<StrokeKind> {
        match self {
            Tool::Rectangle => Some(StrokeKind::Rectangle),
            Tool::Ellipse => Some(StrokeKind::Ellipse),
            Tool::Line => Some(StrokeKind::Line),
            Tool::Arrow => Some(StrokeKind::Arrow),
            _ => None,
        }
    }
}

/// One property the style panel sets (on new items, or on the selection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleProperty {
    Color,
    Fill,
    Width,
    FontSize,
    Opacity,
}

/// The WebSocket's state as the status bar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// First connection attempt after the page loaded.
    Connecting,
    Connected,
    /// The connection dropped; drawing continues and is sent on reconnect.
    Reconnecting,
    /// No connection, and what is drawn is kept on the device (IndexedDB)
    /// until it is sent: it survives a reload.
    Offline,
    /// The link opens nothing (any more): a rotated edit link, a view link
    /// no board has. The page stops connecting.
    Refused,
}

impl ConnectionStatus {
    /// The text of `data-testid="connection-status"`.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionStatus::Connecting => "connecting",
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Reconnecting => "reconnecting",
            ConnectionStatus::Offline => "offline — changes are kept on this device",
            ConnectionStatus::Refused => "this link no longer opens the board: ask for a new one",
        }
    }

    /// Its class on the status dot.
    pub fn class(self) -> &'static str {
        match self {
            ConnectionStatus::Refused => "refused",
            ConnectionStatus::Offline => "reconnecting",
            other => other.label(),
        }
    }
}

/// Palette colours with their accessible names.
pub const PALETTE: [(&str, &str); 6] = [
    ("#1e1e1e", "Black"),
    ("#e03131", "Red"),
    ("#2f9e44", "Green"),
    ("#1971c2", "Blue"),
    ("#f08c00", "Orange"),
    ("#9c36b5", "Purple"),
];

/// Fill colours for rectangles and ellipses (light tints), with names.
pub const FILLS: [(&str, &str); 5] = [
    ("#ffc9c9", "Light red fill"),
    ("#b2f2bb", "Light green fill"),
    ("#a5d8ff", "Light blue fill"),
    ("#ffec99", "Light yellow fill"),
    ("#e9ecef", "Light grey fill"),
];

/// Stroke widths offered by the toolbar, with their accessible names.
pub const WIDTHS: [(f32, &str); 4] = [
    (2.0, "Thin"),
    (4.0, "Medium"),
    (8.0, "Bold"),
    (16.0, "Extra bold"),
];

/// Font sizes for text, with their accessible names.
pub const FONT_SIZES: [(f32, &str); 4] = [
    (16.0, "Small text"),
    (24.0, "Medium text"),
    (36.0, "Large text"),
    (64.0, "Huge text"),
];

/// The people on the board with their colours (the same in every browser).
pub fn with_colors(people: &[Person]) -> Vec<(Person, &'static str)> {
    people
        .iter()
        .cloned()
        .zip(person_colors(people).into_iter().map(|i| PERSON_COLORS[i]))
        .collect()
}

/// What the people list shows for someone without a name: a guest name
/// from their user id (browsers send their own, see [`guest_name`]).
pub fn display_name(person: &Person) -> String {
    if person.name.is_empty() {
        guest_name(person.user.as_str())
    } else {
        person.name.clone()
    }
}

const GUEST_ADJECTIVES: [&str; 24] = [
    "Amber", "Brave", "Bright", "Calm", "Clever", "Cosmic", "Curious", "Eager", "Gentle", "Golden",
    "Happy", "Jolly", "Kind", "Lively", "Lucky", "Mellow", "Nimble", "Quiet", "Rapid", "Sunny",
    "Swift", "Tidy", "Witty", "Zesty",
];
const GUEST_ANIMALS: [&str; 24] = [
    "Badger", "Bison", "Falcon", "Fox", "Gecko", "Heron", "Ibis", "Jaguar", "Koala", "Lemur",
    "Lynx", "Marmot", "Narwhal", "Otter", "Owl", "Panda", "Puffin", "Quokka", "Raven", "Seal",
    "Tapir", "Walrus", "Yak", "Zebra",
];

/// A friendly name for someone who chose none ("Curious Otter"), the same
/// for the same `seed` everywhere: a browser keeps its seed, so its guest
/// keeps their name, and three guests read as three people (576 names).
pub fn guest_name(seed: &str) -> String {
    let hash = crate::protocol::fnv1a(seed) as usize;
    let adjective = GUEST_ADJECTIVES[hash % GUEST_ADJECTIVES.len()];
    let animal = GUEST_ANIMALS[hash / GUEST_ADJECTIVES.len() % GUEST_ANIMALS.len()];
    format!("{adjective} {animal}")
}

/// What the selected items take from the style panel: the panel shows
/// only those sections (an image takes none of them, only opacity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stylable {
    pub colour: bool,
    pub fill: bool,
    pub width: bool,
    pub font_size: bool,
}

impl Stylable {
    /// What items of these kinds take, together.
    pub fn of(kinds: impl IntoIterator<Item = StrokeKind>) -> Self {
        kinds.into_iter().fold(Self::default(), |mut can, kind| {
            let drawn = !matches!(kind, StrokeKind::Image | StrokeKind::Text);
            can.colour |= kind != StrokeKind::Image;
            can.fill |= kind.is_closed();
            can.width |= drawn;
            can.font_size |= kind == StrokeKind::Text;
            can
        })
    }
}

/// Eraser radius in screen pixels.
pub const ERASER_RADIUS: f32 = 10.0;

/// Signals that connect the toolbar, panels and status bar to the engine.
#[derive(Clone, Copy)]
pub struct BoardUi {
    pub tool: RwSignal<Tool>,
    pub color: RwSignal<String>,
    pub width: RwSignal<f32>,
    /// Fill of new rectangles and ellipses, none when `None`.
    pub fill: RwSignal<Option<String>>,
    /// Opacity of new items, 0.1..=1.
    pub opacity: RwSignal<f32>,
    pub font_size: RwSignal<f32>,
    pub status: RwSignal<ConnectionStatus>,
    pub presence: RwSignal<u32>,
    /// Everyone on the board, this tab included.
    pub people: RwSignal<Vec<Person>>,
    /// This tab's user id (empty until the engine starts).
    pub me: RwSignal<String>,
    /// Whose view this tab follows (their user id; empty: nobody's).
    pub following: RwSignal<String>,
    /// This person's display name (empty: none chosen).
    pub name: RwSignal<String>,
    /// The name this browser goes by while none is chosen (a guest name).
    pub guest: RwSignal<String>,
    /// Operations drawn or requested here that the server has not stored yet.
    pub unsaved: RwSignal<usize>,
    /// What others did lately, for screen readers ("Ada added 3 items").
    pub announcement: RwSignal<String>,
    /// A short message for the user (errors, "link copied"), if any.
    pub notice: RwSignal<Option<String>>,
    /// The zoom factor, for the zoom indicator.
    pub zoom: RwSignal<f64>,
    /// How many items are selected, and what they take from the style panel.
    pub selected: RwSignal<usize>,
    pub stylable: RwSignal<Stylable>,
    /// Whether the keyboard shortcut help is open.
    pub help_open: RwSignal<bool>,
    /// Whether the history panel is open.
    pub history_open: RwSignal<bool>,
    /// Whether the item list is open.
    pub items_open: RwSignal<bool>,
    /// A past version is shown instead of the board (the page hides its
    /// tools; the engine keeps which one, and sets the panel's slider).
    pub looking_back: RwSignal<bool>,
    /// The history panel below its slider (which version is shown, its
    /// buttons, the sessions), as HTML the engine writes, escaped.
    pub history_html: RwSignal<String>,
    /// Opened with a view link: no drawing tools, nothing sent that would
    /// change the board.
    pub viewer: bool,
}

impl BoardUi {
    pub fn new(viewer: bool) -> Self {
        Self {
            tool: RwSignal::new(if viewer { Tool::Hand } else { Tool::Pen }),
            color: RwSignal::new(PALETTE[0].0.to_owned()),
            width: RwSignal::new(WIDTHS[1].0),
            fill: RwSignal::new(None),
            opacity: RwSignal::new(1.0),
            font_size: RwSignal::new(FONT_SIZES[1].0),
            status: RwSignal::new(ConnectionStatus::Connecting),
            presence: RwSignal::new(1),
            people: RwSignal::new(Vec::new()),
            me: RwSignal::new(String::new()),
            following: RwSignal::new(String::new()),
            name: RwSignal::new(String::new()),
            guest: RwSignal::new(String::new()),
            unsaved: RwSignal::new(0),
            announcement: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            zoom: RwSignal::new(1.0),
            selected: RwSignal::new(0),
            stylable: RwSignal::new(Stylable::default()),
            help_open: RwSignal::new(false),
            history_open: RwSignal::new(false),
            items_open: RwSignal::new(false),
            looking_back: RwSignal::new(false),
            history_html: RwSignal::new(String::new()),
            viewer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_its_own_shortcut() {
        for tool in Tool::ALL {
            assert_eq!(
                Tool::from_shortcut(&tool.shortcut().to_string()),
                Some(tool)
            );
        }
        assert_eq!(Tool::from_shortcut("x"), None);
        assert_eq!(Tool::from_shortcut("pp"), None);
    }

    #[test]
    fn the_style_panel_offers_what_the_selected_kinds_take() {
        use StrokeKind::*;
        assert_eq!(Stylable::of([Image]), Stylable::default());
        let rectangle = Stylable::of([Rectangle]);
        assert!(rectangle.colour && rectangle.fill && rectangle.width && !rectangle.font_size);
        let text = Stylable::of([Text]);
        assert!(text.colour && !text.fill && !text.width && text.font_size);
        let line_and_image = Stylable::of([Line, Image]);
        assert!(line_and_image.colour && line_and_image.width && !line_and_image.fill);
        let all = Stylable::of([Freehand, Ellipse, Text, Arrow]);
        assert!(all.colour && all.fill && all.width && all.font_size);
    }

    #[test]
    fn guests_get_distinct_stable_valid_names() {
        let seeds = ["u1", "u2", "u3", "ua1b2c3d4e5f6a7b8c9d0e1f2", "0123abcd"];
        let names: Vec<String> = seeds.iter().map(|seed| guest_name(seed)).collect();
        for (seed, name) in seeds.iter().zip(&names) {
            assert_eq!(&guest_name(seed), name, "the same seed, the same name");
            assert!(crate::protocol::validate_name(name).is_ok(), "{name}");
            assert!(!name.contains("Guest"));
        }
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        // Someone without a name is shown by the guest name of their id.
        let person = Person {
            user: crate::protocol::UserId::from_trusted("u1".to_owned()),
            name: String::new(),
            viewer: false,
            following: None,
        };
        assert_eq!(display_name(&person), names[0]);
        let named = Person {
            name: "Ada".to_owned(),
            ..person
        };
        assert_eq!(display_name(&named), "Ada");
    }
}
