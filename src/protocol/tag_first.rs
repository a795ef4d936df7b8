//! Internally tagged enums whose tag comes first, read without buffering.
//!
//! With `#[serde(tag = "type")]`, serde's derived decoder cannot know the
//! variant until it has seen the tag, which may come last, so it first
//! copies every object into its private `Content` tree and decodes that
//! afterwards. That machinery (and the second copy of every decoder it
//! instantiates) was, with flattened strokes (now read through
//! `StrokeFields`), about 15 KB of the browser's WebAssembly over the wire.
//!
//! Everything the server sends — its messages and the operations in them —
//! is written by serde, which always writes the tag first. Those types are
//! therefore read here in one pass: the first key must be the tag, its value
//! names the variant, and the rest of the object goes straight to the
//! variant's derived decoder. An object whose tag is not first is refused
//! with a clear error. What clients send (`ClientMessage`), which other
//! programs write in any key order, keeps serde's tolerant decoder.
//!
//! A type opts in with `#[serde(remote = "Self")]` beside its derives (the
//! derives then produce inherent, externally tagged `serialize` and
//! `deserialize` functions) and [`tag_first_serde!`], which implements the
//! traits through [`TagFirst`]: on the way out it turns each variant into a
//! plain object with the tag as its first field, on the way in it does the
//! reverse. The inherent functions read and write the externally tagged
//! shape, which is never on the wire: call the traits (`serde_json::to_string`,
//! `from_str` and the like), not `Type::serialize` or `Type::deserialize`.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, VariantAccess, Visitor};
use serde::ser::{self, Impossible, SerializeStruct, SerializeStructVariant};

/// Implements `Serialize` and `Deserialize` for an enum that derives them
/// with `#[serde(remote = "Self")]`, as an internally tagged enum whose tag
/// (`$tag`) comes first.
macro_rules! tag_first_serde {
    ($ty:ty, $tag:literal) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(
                    self,
                    $crate::protocol::tag_first::TagFirst::new(serializer, $tag),
                )
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                <$ty>::deserialize($crate::protocol::tag_first::TagFirst::new(
                    deserializer,
                    $tag,
                ))
            }
        }
    };
}
pub(crate) use tag_first_serde;

/// A serializer or deserializer seen through an internally tagged lens: the
/// enum's variant becomes (or comes from) the object's first field, `tag`.
pub struct TagFirst<T> {
    inner: T,
    tag: &'static str,
}

impl<T> TagFirst<T> {
    pub fn new(inner: T, tag: &'static str) -> Self {
        Self { inner, tag }
    }
}

// ---------------------------------------------------------------- writing

/// The one thing a tagged enum's derived serializer may ask of us that we
/// do not turn into an object.
fn not_a_struct_variant<E: ser::Error>() -> E {
    E::custom("a tag-first enum can only have struct and unit variants")
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, Self::Error> {
            Err(not_a_struct_variant())
        })*
    };
}

impl<S: ser::Serializer> ser::Serializer for TagFirst<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = Impossible<S::Ok, S::Error>;
    type SerializeStructVariant = TaggedFields<S::SerializeStruct>;

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let mut fields = self.inner.serialize_struct(name, len + 1)?;
        fields.serialize_field(self.tag, variant)?;
        Ok(TaggedFields(fields))
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        let mut fields = self.inner.serialize_struct(name, 1)?;
        fields.serialize_field(self.tag, variant)?;
        fields.end()
    }

    fn serialize_newtype_variant<T: ser::Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_a_struct_variant())
    }

    fn serialize_newtype_struct<T: ser::Serialize + ?Sized>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_a_struct_variant())
    }

    fn serialize_some<T: ser::Serialize + ?Sized>(self, _value: &T) -> Result<S::Ok, S::Error> {
        Err(not_a_struct_variant())
    }

    refuse! {
        serialize_bool(bool) -> S::Ok;
        serialize_i8(i8) -> S::Ok;
        serialize_i16(i16) -> S::Ok;
        serialize_i32(i32) -> S::Ok;
        serialize_i64(i64) -> S::Ok;
        serialize_u8(u8) -> S::Ok;
        serialize_u16(u16) -> S::Ok;
        serialize_u32(u32) -> S::Ok;
        serialize_u64(u64) -> S::Ok;
        serialize_f32(f32) -> S::Ok;
        serialize_f64(f64) -> S::Ok;
        serialize_char(char) -> S::Ok;
        serialize_str(&str) -> S::Ok;
        serialize_bytes(&[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit() -> S::Ok;
        serialize_unit_struct(&'static str) -> S::Ok;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
    }
}

/// A variant's fields, written after the tag into the same object.
pub struct TaggedFields<F>(F);

impl<F: SerializeStruct> SerializeStructVariant for TaggedFields<F> {
    type Ok = F::Ok;
    type Error = F::Error;

    fn serialize_field<T: ser::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), F::Error> {
        self.0.serialize_field(key, value)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), F::Error> {
        self.0.skip_field(key)
    }

    fn end(self) -> Result<F::Ok, F::Error> {
        self.0.end()
    }
}

// ---------------------------------------------------------------- reading

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for TagFirst<D> {
    type Error = D::Error;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(TaggedObject {
            visitor,
            tag: self.tag,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("a tag-first enum is read as an enum"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// Reads an object whose first key is `tag` as the enum `visitor` builds.
struct TaggedObject<V> {
    visitor: V,
    tag: &'static str,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TaggedObject<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "an object whose first key is `{}`", self.tag)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        match map.next_key_seed(KeyIs(self.tag))? {
            Some(true) => self.visitor.visit_enum(TaggedVariant(map)),
            Some(false) => Err(de::Error::custom(format_args!(
                "`{}` must be the object's first key",
                self.tag
            ))),
            None => Err(de::Error::missing_field(self.tag)),
        }
    }
}

/// Whether a key is the expected one, without allocating it.
struct KeyIs(&'static str);

impl<'de> DeserializeSeed<'de> for KeyIs {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeyIs {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<bool, E> {
        Ok(key == self.0.as_bytes())
    }
}

/// The rest of a tagged object, after its tag key: the tag's value names
/// the variant, the remaining entries are the variant's fields.
struct TaggedVariant<A>(A);

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for TaggedVariant<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        mut self,
        seed: S,
    ) -> Result<(S::Value, Self), A::Error> {
        let variant = self.0.next_value_seed(seed)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for TaggedVariant<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        // Unknown fields are ignored, as everywhere else in the protocol.
        while self
            .0
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        seed.deserialize(de::value::MapAccessDeserializer::new(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("a tag-first enum has no tuple variants"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.0)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(remote = "Self", rename_all = "snake_case")]
    enum Shape {
        Circle {
            radius: u32,
        },
        Label {
            text: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            size: Option<u32>,
        },
        Nothing,
    }
    tag_first_serde!(Shape, "kind");

    /// The same enum as serde's own internally tagged derive writes it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Reference {
        Circle {
            radius: u32,
        },
        Label {
            text: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            size: Option<u32>,
        },
        Nothing,
    }

    #[test]
    fn writes_exactly_what_serde_writes_for_an_internally_tagged_enum() {
        let pairs = [
            (Shape::Circle { radius: 3 }, Reference::Circle { radius: 3 }),
            (
                Shape::Label {
                    text: "hi".into(),
                    size: None,
                },
                Reference::Label {
                    text: "hi".into(),
                    size: None,
                },
            ),
            (
                Shape::Label {
                    text: "hi".into(),
                    size: Some(9),
                },
                Reference::Label {
                    text: "hi".into(),
                    size: Some(9),
                },
            ),
            (Shape::Nothing, Reference::Nothing),
        ];
        for (shape, reference) in pairs {
            let written = serde_json::to_string(&shape).unwrap();
            assert_eq!(written, serde_json::to_string(&reference).unwrap());
            assert_eq!(serde_json::from_str::<Shape>(&written).unwrap(), shape);
        }
    }

    #[test]
    fn reads_fields_in_any_order_after_the_tag_and_ignores_unknown_ones() {
        let shape: Shape =
            serde_json::from_str(r#"{"kind":"label","size":2,"extra":[1,{}],"text":"a"}"#).unwrap();
        assert_eq!(
            shape,
            Shape::Label {
                text: "a".into(),
                size: Some(2)
            }
        );
        let shape: Shape = serde_json::from_str(r#"{"kind":"nothing","extra":1}"#).unwrap();
        assert_eq!(shape, Shape::Nothing);
    }

    #[test]
    fn refuses_what_is_not_a_tag_first_object_with_a_clear_error() {
        let cases = [
            (
                r#"{"radius":3,"kind":"circle"}"#,
                "`kind` must be the object's first key",
            ),
            (r#"{}"#, "missing field `kind`"),
            (r#"{"kind":"square"}"#, "unknown variant `square`"),
            (r#"{"kind":"circle"}"#, "missing field `radius`"),
            (r#"{"kind":"circle","radius":"big"}"#, "invalid type"),
            (r#"["circle",3]"#, "invalid type: sequence"),
            (r#""circle""#, "invalid type: string"),
        ];
        for (json, expected) in cases {
            let error = serde_json::from_str::<Shape>(json).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }
}
