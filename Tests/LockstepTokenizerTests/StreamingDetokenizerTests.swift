import XCTest
@testable import LockstepTokenizer

final class StreamingDetokenizerTests: XCTestCase {
    func testEmojiSplitAcrossTokens() throws {
        let tok = try TestModel.tokenizer()
        let text = "I love 🍕 and 👨\u{200D}👩\u{200D}👧 — 日本語!"
        let ids = tok.encode(text, addSpecial: false)
        // The emoji really are split across tokens: some token alone is not valid UTF-8.
        XCTAssertTrue(ids.contains { String(decoding: tok.bytes(of: $0), as: UTF8.self).unicodeScalars.contains("\u{FFFD}") })
        var stream = StreamingDetokenizer(tokenizer: tok)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        pieces.append(stream.finish())
        XCTAssertEqual(scalars(pieces.joined()), scalars(text))
        // Nothing ever comes out as a replacement character.
        XCTAssertFalse(pieces.joined().unicodeScalars.contains("\u{FFFD}"))
        // The pizza's 4 bytes come out together, in one piece.
        XCTAssertTrue(pieces.contains { $0.contains("🍕") })
    }

    func testHoldsBackAndFlushes() throws {
        let tok = try TestModel.tokenizer()
        // 😀 = F0 9F 98 80: the reference splits it into three byte-level tokens.
        let ids = tok.encode("😀", addSpecial: false)
        XCTAssertEqual(ids.count, 3)
        var stream = StreamingDetokenizer(tokenizer: tok)
        XCTAssertEqual(stream.append(ids[0]), "")
        XCTAssertEqual(stream.append(ids[1]), "")
        XCTAssertEqual(stream.append(ids[2]), "😀")
        XCTAssertEqual(stream.finish(), "")
        // An unfinished sequence is flushed as U+FFFD by finish(), like decode.
        XCTAssertEqual(stream.append(ids[0]), "")
        XCTAssertEqual(stream.finish(), tok.decode([ids[0]]))
        XCTAssertEqual(stream.finish(), "")
    }

    func testCompletePrefixLength() {
        XCTAssertEqual(completePrefixLength([]), 0)
        XCTAssertEqual(completePrefixLength([0x61, 0xF0, 0x9F]), 1)
        XCTAssertEqual(completePrefixLength([0x61, 0xF0, 0x9F, 0x98, 0x80]), 5)
        XCTAssertEqual(completePrefixLength([0xE6, 0x97]), 0)
        XCTAssertEqual(completePrefixLength([0xE0, 0x80]), 2)   // E0 80 can never be completed
        XCTAssertEqual(completePrefixLength([0x80, 0x80]), 2)   // stray continuation bytes
        XCTAssertEqual(completePrefixLength([0xFF]), 1)
    }
}
