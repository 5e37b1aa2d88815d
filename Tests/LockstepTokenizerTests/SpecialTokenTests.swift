import XCTest
@testable import LockstepTokenizer

/// Control tokens on the real model: parseSpecial, bytes(of:), end of generation, addSpecial.
final class SpecialTokenTests: XCTestCase {
    func testParseSpecialGivesControlIDs() throws {
        let tok = try TestModel.tokenizer()
        let imStart = try XCTUnwrap(tok.id(forToken: "<|im_start|>"))
        let imEnd = try XCTUnwrap(tok.id(forToken: "<|im_end|>"))
        XCTAssertEqual(imStart, 1)
        XCTAssertEqual(imEnd, 2)
        let text = "<|im_start|>user\nHi<|im_end|>"
        let ids = tok.encode(text, addSpecial: false, parseSpecial: true)
        // The text between the markers is tokenized as usual.
        let inner = tok.encode("user\nHi", addSpecial: false)
        XCTAssertEqual(ids, [imStart] + inner + [imEnd])
        XCTAssertEqual(tok.decode(ids), text)
        // Without parseSpecial the markers are spelled out with ordinary tokens.
        let plain = tok.encode(text, addSpecial: false, parseSpecial: false)
        XCTAssertFalse(plain.contains(imStart))
        XCTAssertFalse(plain.contains(imEnd))
        XCTAssertEqual(tok.decode(plain), text)
    }

    func testParseSpecialLeavesPartialMarkersAsText() throws {
        let tok = try TestModel.tokenizer()
        let text = "<|im_start|<|im_end|><|im_end"
        let ids = tok.encode(text, addSpecial: false, parseSpecial: true)
        XCTAssertEqual(ids.filter { $0 == 2 }.count, 1)
        XCTAssertFalse(ids.contains(1))
        XCTAssertEqual(tok.decode(ids), text)
    }

    func testControlTokensRenderAsTheirText() throws {
        let tok = try TestModel.tokenizer()
        XCTAssertEqual(tok.bytes(of: 2), Array("<|im_end|>".utf8))
        XCTAssertEqual(tok.bytes(of: 0), Array("<|endoftext|>".utf8))
        XCTAssertEqual(tok.bytes(of: -1), [])
        XCTAssertEqual(tok.bytes(of: TokenID(tok.vocabularySize)), [])
        // An ordinary byte-level token: "Ġ" is a space.
        let space = try XCTUnwrap(tok.id(forToken: "Ġ"))
        XCTAssertEqual(tok.bytes(of: space), [0x20])
    }

    /// SmolLM2's vocabulary has no token for some bytes (e.g. 0x04, and 0xF1, the lead byte of
    /// U+40000…U+7FFFF): they are dropped, as llama.cpp does (the reference tokenizer raises).
    func testBytesMissingFromVocabularyAreDropped() throws {
        let tok = try TestModel.tokenizer()
        XCTAssertNil(tok.id(forToken: "\u{104}"))  // byte 0x04 in the byte-level alphabet
        XCTAssertEqual(tok.encode("\u{4}", addSpecial: false), [])
        XCTAssertEqual(tok.decode(tok.encode("x\u{4}y", addSpecial: false)), "xy")
        // U+40000 is F1 80 80 80: the lead byte has no token, the continuation bytes do.
        let ids = tok.encode("\u{40000}", addSpecial: false)
        XCTAssertEqual(ids.flatMap { tok.bytes(of: $0) }, [0x80, 0x80, 0x80])
        XCTAssertEqual(tok.decode(ids), "\u{FFFD}\u{FFFD}\u{FFFD}")
        XCTAssertFalse(ids.contains(0))  // never the unknown (= <|endoftext|>) token
    }

    func testEndOfGeneration() throws {
        let tok = try TestModel.tokenizer()
        XCTAssertTrue(tok.isEndOfGeneration(2))   // <|im_end|>, also eos
        XCTAssertTrue(tok.isEndOfGeneration(0))   // <|endoftext|>
        XCTAssertFalse(tok.isEndOfGeneration(1))  // <|im_start|>
        XCTAssertFalse(tok.isEndOfGeneration(tok.encode("Hi", addSpecial: false)[0]))
    }

    func testRealVocabularyMetadata() throws {
        let tok = try TestModel.tokenizer()
        let v = tok.vocabulary
        XCTAssertEqual(v.model, "gpt2")
        XCTAssertEqual(v.pre, "smollm")
        XCTAssertEqual(tok.vocabularySize, 49152)
        XCTAssertEqual(v.merges.count, 48900)
        XCTAssertEqual(v.bosID, 1)
        XCTAssertEqual(v.eosID, 2)
        XCTAssertFalse(v.addBOS)
        // add_bos_token is false, so addSpecial changes nothing for this model.
        XCTAssertEqual(tok.encode("Hello", addSpecial: true), tok.encode("Hello", addSpecial: false))
    }
}
