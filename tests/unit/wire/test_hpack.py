"""HPACK decoding (RFC 7541): integers, Huffman, the dynamic table and its eviction, malformed blocks."""

from __future__ import annotations

import pytest

from tests.unit.wire.frames import huffman_encode, indexed, literal, string
from triage.wire._h2 import (
    HUFFMAN_LENGTHS,
    ErrorCode,
    H2Error,
    HpackDecoder,
    encode_int,
    huffman_codes,
    huffman_decode,
    literal_field,
)


@pytest.mark.parametrize(
    ("value", "bits", "encoded"),
    [(10, 5, b"\x0a"), (1337, 5, b"\x1f\x9a\x0a"), (42, 8, b"\x2a"), (31, 5, b"\x1f\x00")],
    ids=["fits", "rfc-c.1.2", "8-bit", "exactly-the-prefix"],
)
def test_hpack_integer_encoding_matches_rfc_examples(value: int, bits: int, encoded: bytes) -> None:
    assert encode_int(value, bits) == encoded


def test_huffman_code_is_the_rfc_table() -> None:
    codes = huffman_codes()
    # Spot checks against RFC 7541 Appendix B.
    assert codes[ord("0")] == (0x0, 5)
    assert codes[ord("a")] == (0x3, 5)
    assert codes[ord("w")] == (0x78, 7)
    assert codes[0] == (0x1FF8, 13)
    assert codes[256] == (0x3FFFFFFF, 30)
    assert sum(2.0**-length for length in HUFFMAN_LENGTHS) == 1.0  # a complete prefix code


@pytest.mark.parametrize(
    ("encoded", "text"),
    [
        ("f1e3c2e5f23a6ba0ab90f4ff", b"www.example.com"),
        ("a8eb10649cbf", b"no-cache"),
        ("25a849e95ba97d7f", b"custom-key"),
        ("25a849e95bb8e8b4bf", b"custom-value"),
    ],
    ids=["c.4.1", "c.4.2", "c.4.3-name", "c.4.3-value"],
)
def test_huffman_decode_rfc_examples(encoded: str, text: bytes) -> None:
    assert huffman_decode(bytes.fromhex(encoded)) == text


def test_huffman_round_trips_every_byte_value() -> None:
    every = bytes(range(256)) * 2
    assert huffman_decode(huffman_encode(every)) == every
    assert huffman_decode(b"") == b""


@pytest.mark.parametrize(
    "encoded",
    [
        bytes.fromhex("ffffffff"),  # contains EOS (30 ones)
        bytes.fromhex("f1e3c2e5f23a6ba0ab90f4ff") + b"\xff",  # 8 bits of padding
        bytes([0b00000000]),  # "0" then three zero bits: padding must be ones
    ],
    ids=["eos", "padding-too-long", "padding-not-ones"],
)
def test_huffman_decode_rejects_malformed_strings(encoded: bytes) -> None:
    with pytest.raises(H2Error) as err:
        huffman_decode(encoded)
    assert err.value.code == ErrorCode.COMPRESSION_ERROR


def test_hpack_decodes_rfc_c4_requests_with_the_dynamic_table() -> None:
    decoder = HpackDecoder()
    first = decoder.decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))
    assert first == [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
    second = decoder.decode(bytes.fromhex("828684be5886a8eb10649cbf"))
    assert second[-1] == ("cache-control", "no-cache")
    assert second[3] == (":authority", "www.example.com")  # index 62 = the first dynamic entry
    third = decoder.decode(bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))
    assert third[-1] == ("custom-key", "custom-value")
    assert list(decoder.table) == [
        ("custom-key", "custom-value"),
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ]
    assert decoder.table_size == 164


def test_hpack_dynamic_table_evicts_the_oldest_entries() -> None:
    decoder = HpackDecoder(max_table_size=256)
    # Each entry: 32 + 10 + 50 = 92 bytes; two fit in 256, the third evicts the first.
    names = [f"name-{i:05d}" for i in range(3)]
    for name in names:
        decoder.decode(literal(name, "v" * 50, indexing=True))
    assert [n for n, _ in decoder.table] == [names[2], names[1]]
    assert decoder.table_size == 184
    assert decoder.decode(indexed(62) + indexed(63)) == [(names[2], "v" * 50), (names[1], "v" * 50)]
    with pytest.raises(H2Error):
        decoder.decode(indexed(64))  # evicted


def test_hpack_entry_larger_than_the_table_empties_it() -> None:
    decoder = HpackDecoder(max_table_size=100)
    decoder.decode(literal("a", "b", indexing=True))
    decoder.decode(literal("big", "x" * 100, indexing=True))
    assert list(decoder.table) == []
    assert decoder.table_size == 0


def test_hpack_table_size_update_shrinks_the_table_and_only_leads_a_block() -> None:
    decoder = HpackDecoder()
    decoder.decode(literal("k1", "v1", indexing=True) + literal("k2", "v2", indexing=True))
    assert decoder.decode(encode_int(40, 5, 0x20) + indexed(62)) == [("k2", "v2")]  # one entry (36 bytes) left
    assert len(decoder.table) == 1
    with pytest.raises(H2Error):
        decoder.decode(indexed(2) + encode_int(0, 5, 0x20))  # after a field
    with pytest.raises(H2Error):
        HpackDecoder().decode(encode_int(8192, 5, 0x20))  # above what we advertised


def test_hpack_literal_representations_and_huffman_strings() -> None:
    decoder = HpackDecoder()
    block = (
        literal("x-plain", "a", huffman=False)
        + b"\x10"  # never indexed, new name
        + string("x-secret", huffman=True)
        + string("s3cr3t", huffman=True)
        + b"\x5f"  # with indexing, static name 31 (content-type)
        + string("application/grpc", huffman=True)
    )
    assert decoder.decode(block) == [("x-plain", "a"), ("x-secret", "s3cr3t"), ("content-type", "application/grpc")]
    assert list(decoder.table) == [("content-type", "application/grpc")]
    # The same Huffman string again comes from the cache.
    assert decoder.decode(b"\x10" + string("x-secret", True) + string("s3cr3t", True))[0] == ("x-secret", "s3cr3t")


@pytest.mark.parametrize(
    "block",
    [indexed(0), indexed(70), b"\x82\x84\x41", b"\x00\x05abc", encode_int(1 << 40, 7, 0x80)],
    ids=["index-0", "index-past-table", "truncated", "string-past-end", "integer-overflow"],
)
def test_hpack_rejects_malformed_blocks(block: bytes) -> None:
    with pytest.raises(H2Error) as err:
        HpackDecoder().decode(block)
    assert err.value.code == ErrorCode.COMPRESSION_ERROR


def test_hpack_rejects_a_header_list_over_the_limit() -> None:
    decoder = HpackDecoder(max_list_size=100)
    with pytest.raises(H2Error) as err:
        decoder.decode(literal("a", "x" * 80) + literal("b", "y"))
    assert err.value.code == ErrorCode.ENHANCE_YOUR_CALM


def test_literal_field_never_indexes() -> None:
    encoded = literal_field(b"grpc-status", b"0")
    decoder = HpackDecoder()
    assert decoder.decode(encoded) == [("grpc-status", "0")]
    assert decoder.decode(literal_field(31, b"application/grpc")) == [("content-type", "application/grpc")]
    assert list(decoder.table) == []
