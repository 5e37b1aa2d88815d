import XCTest
@testable import LockstepTokenizer

/// The `"llama"` (SentencePiece-style, score-ordered BPE) tokenizer on a small synthetic
/// vocabulary whose expected ids are worked out by hand.
final class SentencePieceTests: XCTestCase {
    // id: text (score, type)
    //  0 <unk> (control types below), 1 <s>, 2 </s>
    //  3 <0xE2>  4 <0x82>  5 <0xAC>   byte tokens (type 6)
    //  6 ▁ -1    7 h -2    8 e -2     9 l -2    10 o -2
    // 11 ▁h -5  12 he -3  13 ll -1   14 lo -2   15 ▁he -4   16 hell -0.5   17 ▁hell -0.1
    static let vocabulary = TokenizerVocabulary(
        model: "llama",
        tokens: ["<unk>", "<s>", "</s>", "<0xE2>", "<0x82>", "<0xAC>",
                 "▁", "h", "e", "l", "o", "▁h", "he", "ll", "lo", "▁he", "hell", "▁hell"],
        scores: [0, 0, 0, 0, 0, 0,
                 -1, -2, -2, -2, -2, -5, -3, -1, -2, -4, -0.5, -0.1],
        tokenTypes: [2, 3, 3, 6, 6, 6,
                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        bosID: 1, eosID: 2, unknownID: 0, addBOS: true)

    func tokenizer() throws -> Tokenizer { try Tokenizer(vocabulary: Self.vocabulary) }

    /// "hello" → "▁hello" → symbols ▁ h e l l o. Candidate pairs (score): ▁h −5, he −3, ll −1, lo −2.
    /// 1. ll (−1) wins even though he is further left  → ▁ h e [ll] o   (lo is now stale)
    /// 2. he (−3)                                        → ▁ [he] ll o   new pairs: ▁he −4, hell −0.5
    /// 3. hell (−0.5)                                    → ▁ [hell] o    new pair: ▁hell −0.1 (hello is no token)
    /// 4. ▁hell (−0.1)                                   → [▁hell] o     nothing left that forms a token
    /// ids: ▁hell = 17, o = 10.
    func testScoreOrderedMerges() throws {
        let tok = try tokenizer()
        XCTAssertEqual(tok.encode("hello", addSpecial: false), [17, 10])
        XCTAssertEqual(tok.encode("hello", addSpecial: true), [1, 17, 10])  // addBOS
        XCTAssertEqual(tok.decode([17, 10]), "hello")                     // leading ▁ removed
    }

    /// "lll" → ▁ l l l: ll (−1) occurs at positions 1 and 2; the leftmost merges first → ▁ [ll] l;
    /// "▁ll" and "lll" are not tokens. ids 6, 13, 9.
    func testTiesMergeLeftmost() throws {
        XCTAssertEqual(try tokenizer().encode("lll", addSpecial: false), [6, 13, 9])
    }

    /// "ll ll" → "▁ll▁ll": both ll pairs merge, the ▁s stay alone: ▁ ll ▁ ll = 6 13 6 13.
    /// Decoding gives " ll ll" minus the prefix space.
    func testSpacesBecomeMarks() throws {
        let tok = try tokenizer()
        let ids = tok.encode("ll ll", addSpecial: false)
        XCTAssertEqual(ids, [6, 13, 6, 13])
        XCTAssertEqual(tok.decode(ids), "ll ll")
    }

    /// "h€" → ▁ h €: ▁h (−5) merges; € (E2 82 AC) is no token, so it falls back to its byte
    /// tokens 3 4 5. "é" (C3 A9) has no byte tokens here, so it becomes <unk> (0).
    func testByteFallbackAndUnknown() throws {
        let tok = try tokenizer()
        let ids = tok.encode("h€", addSpecial: false)
        XCTAssertEqual(ids, [11, 3, 4, 5])
        XCTAssertEqual(tok.decode(ids), "h€")
        XCTAssertEqual(tok.encode("é", addSpecial: false), [6, 0])
    }

    /// With parseSpecial, "</s>" is the control token, and the text after it gets its own ▁
    /// prefix (as llama.cpp does after a special token): ▁hell o </s> ▁hell o.
    func testParseSpecialRestartsSpacePrefix() throws {
        let tok = try tokenizer()
        XCTAssertEqual(tok.encode("hello</s>hello", addSpecial: false, parseSpecial: true), [17, 10, 2, 17, 10])
        // Without parseSpecial, "</s>" is text: <, /, s, > have no tokens or byte tokens → unk each.
        XCTAssertEqual(tok.encode("</s>", addSpecial: false), [6, 0, 0, 0, 0])
    }

    func testSpacePrefixCanBeTurnedOff() throws {
        var v = Self.vocabulary
        v.addSpacePrefix = false
        let tok = try Tokenizer(vocabulary: v)
        // "hello" without ▁: ll, he, hell → [hell] o = 16 10.
        XCTAssertEqual(tok.encode("hello", addSpecial: false), [16, 10])
        XCTAssertEqual(tok.decode([16, 10]), "hello")
    }

    func testStreamingMatchesDecode() throws {
        let tok = try tokenizer()
        let ids = tok.encode("ll h€ hello", addSpecial: true)
        var stream = StreamingDetokenizer(tokenizer: tok)
        var text = ""
        for id in ids { text += stream.append(id) }
        text += stream.finish()
        XCTAssertEqual(text, tok.decode(ids))
        XCTAssertEqual(text, "<s>ll h€ hello")
    }
}
