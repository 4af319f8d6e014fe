//! The serde plumbing of the format: field types that read one JSON value
//! and say what is wrong with it in the format's own words (`expected an
//! integer in 0..=4294967295, got -1`, `unknown fourcc "NV13"`), bounded
//! lists, and [`Obj`], which accepts objects only (serde's derived structs
//! would also take a list of values in field order).
//!
//! Every type here is read under `serde_path_to_error`, which supplies the
//! path; an error message here never repeats it. A JSON `null` is the same
//! as an absent field: fields are `Option<T>`, and serde reads `null` as
//! `None`.

use std::fmt;
use std::marker::PhantomData;

use accord_engine::{formats, Usage};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

type Error = String;

/// `expected an integer in 0..={max}, got {v}` unless `v` is one.
pub(crate) fn int(v: &Value, max: u64) -> Result<u64, Error> {
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => Err(format!("expected an integer in 0..={max}, got {v}")),
    }
}

fn string(v: &Value) -> Result<&str, Error> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, got {v}"))
}

/// One JSON value, checked by `check`: the leaves of the format.
fn leaf<'de, D, T>(d: D, check: impl FnOnce(&Value) -> Result<T, Error>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Value::deserialize(d)?;
    check(&v).map_err(de::Error::custom)
}

/// Defines a leaf type: a newtype read by one checking function.
macro_rules! leaf {
    ($(#[$doc:meta])* $name:ident($t:ty) = $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub(crate) struct $name(pub $t);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                leaf(d, $check).map($name)
            }
        }
    };
}

leaf!(
    /// A `u32` field.
    U32(u32) = |v| int(v, u64::from(u32::MAX)).map(|n| n as u32)
);
leaf!(
    /// A `u64` field.
    U64(u64) = |v| int(v, u64::MAX)
);
leaf!(
    /// `true` or `false`.
    Flag(bool) = |v| v.as_bool().ok_or_else(|| "expected true or false".to_string())
);
leaf!(
    /// Any string.
    Text(String) = |v| string(v).map(str::to_string)
);
leaf!(
    /// A fourcc name (`NV12`, `xrgb8888`, `DRM_FORMAT_YUV420`).
    Fourcc(u32) = fourcc
);
leaf!(
    /// A modifier: `LINEAR`, `INVALID` or up to 16 hex digits.
    Modifier(u64) = modifier
);
leaf!(
    /// A fourcc name, or `"*"` (any format: `None`).
    FourccOrAny(Option<u32>) = |v| if v == "*" { Ok(None) } else { fourcc(v).map(Some) }
);
leaf!(
    /// A modifier, or `"*"` (any modifier: `None`).
    ModifierOrAny(Option<u64>) = |v| if v == "*" { Ok(None) } else { modifier(v).map(Some) }
);
leaf!(
    /// One usage name of [`Usage::NAMES`].
    UsageName(Usage) = usage_name
);
leaf!(
    /// A `dev_t`: an integer, or `"major:minor"` (glibc's `makedev`
    /// encoding).
    Device(u64) = device
);

fn fourcc(v: &Value) -> Result<u32, Error> {
    let s = string(v)?;
    formats::parse_name(s).ok_or_else(|| format!("unknown fourcc \"{s}\""))
}

fn modifier(v: &Value) -> Result<u64, Error> {
    let s = string(v)?;
    formats::parse_modifier(s)
        .ok_or_else(|| format!("bad modifier \"{s}\" (LINEAR, INVALID or up to 16 hex digits)"))
}

fn usage_name(v: &Value) -> Result<Usage, Error> {
    let s = string(v)?;
    Usage::from_name(s).ok_or_else(|| {
        let known: Vec<&str> = Usage::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown usage \"{s}\" (known: {})", known.join(", "))
    })
}

fn device(v: &Value) -> Result<u64, Error> {
    let Some(s) = v.as_str() else {
        return int(v, u64::MAX);
    };
    let parsed = s
        .split_once(':')
        .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)));
    let Some((major, minor)) = parsed else {
        return Err(format!("expected \"major:minor\", got \"{s}\""));
    };
    let (major, minor) = (u64::from(major), u64::from(minor));
    Ok(((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff))
}

/// Every `visit_*` but the wanted one: the error `$msg` (no serde
/// "invalid type" wording).
macro_rules! not_this {
    ($msg:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
}

/// What a bounded list says when it is not a list or too long.
pub(crate) trait ListWords {
    /// Most entries.
    const MAX: usize;
    /// The message for a value that is not a list.
    const NOT_A_LIST: &'static str = "expected a list";
    /// The message for a list of `len` entries, more than [`Self::MAX`].
    fn too_long(len: usize) -> String {
        format!("{len} entries, at most {} allowed", Self::MAX)
    }
}

/// A list of at most `W::MAX` entries. The length is checked before any
/// entry is read (a JSON list tells its length up front).
pub(crate) struct List<T, W>(pub Vec<T>, pub PhantomData<W>);

impl<'de, T: Deserialize<'de>, W: ListWords> Deserialize<'de> for List<T, W> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor::<T, W>(PhantomData))
    }
}

struct ListVisitor<T, W>(PhantomData<(T, W)>);

impl<'de, T: Deserialize<'de>, W: ListWords> Visitor<'de> for ListVisitor<T, W> {
    type Value = List<T, W>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(W::NOT_A_LIST)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if let Some(len) = seq.size_hint().filter(|&n| n > W::MAX) {
            return Err(de::Error::custom(W::too_long(len)));
        }
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(W::MAX));
        while let Some(v) = seq.next_element()? {
            if out.len() == W::MAX {
                // No length hint: count the rest for the message.
                let mut len = out.len() + 1;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    len += 1;
                }
                return Err(de::Error::custom(W::too_long(len)));
            }
            out.push(v);
        }
        Ok(List(out, PhantomData))
    }

    not_this!(W::NOT_A_LIST);
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(W::NOT_A_LIST))
    }
}

/// Usage names, at most four times as many as there are names.
pub(crate) struct UsageWords;
impl ListWords for UsageWords {
    const MAX: usize = Usage::NAMES.len() * 4;
}

/// A list of usage names, folded into one [`Usage`].
pub(crate) struct UsageList(pub Usage);

impl<'de> Deserialize<'de> for UsageList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let List(names, _) = List::<UsageName, UsageWords>::deserialize(d)?;
        Ok(UsageList(
            names.into_iter().fold(Usage::empty(), |u, n| u | n.0),
        ))
    }
}

/// `[width, height]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size(pub (u32, u32));

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        const MSG: &str = "expected [width, height]";
        impl<'de> Visitor<'de> for SizeVisitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(MSG)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Size, A::Error> {
                if seq.size_hint().is_some_and(|n| n != 2) {
                    return Err(de::Error::custom(MSG));
                }
                let w = seq.next_element::<U32>()?;
                let h = seq.next_element::<U32>()?;
                match (w, h, seq.next_element::<IgnoredAny>()?) {
                    (Some(w), Some(h), None) => Ok(Size((w.0, h.0))),
                    _ => Err(de::Error::custom(MSG)),
                }
            }
            not_this!(MSG);
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Size, A::Error> {
                Err(de::Error::custom(MSG))
            }
        }
        d.deserialize_any(SizeVisitor)
    }
}

/// A JSON object read into the derived struct `T`; anything else is
/// `expected an object`.
pub(crate) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        const MSG: &str = "expected an object";
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(MSG)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
            not_this!(MSG);
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Obj<T>, A::Error> {
                Err(de::Error::custom(MSG))
            }
        }
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// The message serde's derive gives for an unknown field, `` unknown field
/// `k`, expected one of `a`, `b` ``, in the format's words: `unknown field
/// "k" (known: a, b)`. `None` for any other message.
pub(crate) fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    // The key may hold anything; the known names (ours) hold no backtick.
    let (key, known) = match rest.rfind("`, expected ") {
        Some(i) => (&rest[..i], &rest[i + "`, expected ".len()..]),
        None => (rest.strip_suffix("`, there are no fields")?, ""),
    };
    let known: Vec<&str> = known.split('`').skip(1).step_by(2).collect();
    Some(format!(
        "unknown field \"{key}\" (known: {})",
        known.join(", ")
    ))
}
