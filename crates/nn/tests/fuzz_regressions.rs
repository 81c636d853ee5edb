//! Inputs found by the fuzz targets in `fuzz/` (see `docs/reliability.md`), each kept as a
//! regression test: the bytes inline, and what the reader must do with them now.

use nn::data::datasets::{parse_idx, DataError, IdxArray};

/// `idx`, run 1: a header `0 x 0x6e031213 x 0x11111600 x 0x6e031c17` with no payload. The
/// product of all the dims is 0, so the file passed as an empty array, but the size of one
/// item (the product of the last three dims) overflows `usize`, and `IdxArray::item` (or
/// `item_len`) panicked with "attempt to multiply with overflow". Now the reader rejects
/// the header.
#[test]
fn idx_empty_array_whose_item_size_overflows_is_rejected() {
    let bytes = [
        0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x6e, 0x03, 0x12, 0x13, 0x11, 0x11, 0x16, 0x00, //
        0x6e, 0x03, 0x1c, 0x17,
    ];
    let e = parse_idx(&bytes, "crash.idx").unwrap_err();
    assert!(matches!(e, DataError::DimsOverflow { ref dims, .. } if dims == &[0, 0x6e031213, 0x11111600, 0x6e031c17]));
    assert!(e.to_string().starts_with("crash.idx: header dims 0x1845694995x286332416x1845697559 overflow"), "{e}");

    // An array built by hand with such dims does not panic either.
    let a = IdxArray { dims: vec![0, 0x6e031213, 0x11111600, 0x6e031c17], data: Vec::new() };
    assert_eq!(a.item_len(), usize::MAX);
    assert_eq!(a.item(0), None);
}

/// `idx`, run 2: seven dims `0x02010000 x 0x140b0000 x 0x4000 x 0 x ...` with no payload.
/// Multiplying from the left overflows before reaching the zero; the product is 0 whatever
/// the order, so this is a valid empty array (before the fix of run 1 the reader called it
/// an overflow; the harness's own left-to-right product panicked on it).
#[test]
fn idx_zero_dim_after_large_dims_is_an_empty_array() {
    let bytes = [
        0x00, 0x00, 0x08, 0x07, 0x02, 0x01, 0x00, 0x00, 0x14, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x19, 0x00, 0x02, 0x00, 0x00, 0x04, 0x00, 0x00, 0x9e, 0x9b, 0x9f, 0x9f,
    ];
    let a = parse_idx(&bytes, "empty.idx").unwrap();
    assert_eq!(a.dims, [0x02010000, 0x140b0000, 0x4000, 0, 0x19000200, 0x00040000, 0x9e9b9f9f]);
    assert!(a.data.is_empty());
    assert_eq!((a.num_items(), a.item_len()), (0x02010000, 0));
    assert_eq!(a.item(0), Some(&[][..]));
    assert_eq!(a.item(0x02010000), None);
}
