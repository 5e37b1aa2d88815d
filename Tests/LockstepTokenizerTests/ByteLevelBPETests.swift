import XCTest
@testable import LockstepTokenizer

/// Byte-level BPE and the llama3 pre-tokenizer on small synthetic vocabularies, expected ids
/// worked out by hand.
final class ByteLevelBPETests: XCTestCase {
    func testByteToUnicodeMap() {
        XCTAssertEqual(ByteLevel.scalarForByte[0x20], "Ġ")
        XCTAssertEqual(ByteLevel.scalarForByte[0x0A], "Ċ")
        XCTAssertEqual(ByteLevel.scalarForByte[0x41], "A")
        XCTAssertEqual(ByteLevel.scalarForByte[0x00], "\u{100}")
        XCTAssertEqual(ByteLevel.scalarForByte[0xAD], "\u{143}")
        for b in 0..<256 { XCTAssertEqual(ByteLevel.byte(for: ByteLevel.scalarForByte[b]), UInt8(b)) }
        XCTAssertNil(ByteLevel.byte(for: " "))
        XCTAssertNil(ByteLevel.byte(for: "\u{144}"))
    }

    /// Tokens 0 a, 1 b, 2 aa, 3 ab.
    private func tok(merges: [String]) throws -> Tokenizer {
        try Tokenizer(vocabulary: TokenizerVocabulary(model: "gpt2", pre: "gpt2", tokens: ["a", "b", "aa", "ab"], merges: merges))
    }

    /// "aab" has pairs (a,a) and (a,b); the lower-ranked merge wins.
    /// merges [a b, a a]: a b (rank 0) first → a [ab] = 0 3.  merges [a a, a b]: → [aa] b = 2 1.
    /// "aaa" with [a a]: both pairs are the same merge; the leftmost goes first → [aa] a = 2 0.
    func testRankOrderAndLeftmostTies() throws {
        XCTAssertEqual(try tok(merges: ["a b", "a a"]).encode("aab"), [0, 3])
        XCTAssertEqual(try tok(merges: ["a a", "a b"]).encode("aab"), [2, 1])
        XCTAssertEqual(try tok(merges: ["a a"]).encode("aaa"), [2, 0])
        XCTAssertEqual(try tok(merges: ["a a"]).encode("aaaa"), [2, 2])
    }

    /// A long word exercises the heap: 1000 × "a" with only "a a" → 500 × aa.
    func testLongWord() throws {
        let ids = try tok(merges: ["a a"]).encode(String(repeating: "a", count: 1001))
        XCTAssertEqual(ids, Array(repeating: 2, count: 500) + [0])
    }

    /// Bytes missing from an incomplete vocabulary are dropped (as llama.cpp does), even when
    /// the vocabulary has an unknown token.
    func testMissingBytes() throws {
        XCTAssertEqual(try tok(merges: []).encode("ac"), [0])
        let withUnk = try Tokenizer(vocabulary: TokenizerVocabulary(model: "gpt2", tokens: ["a", "<unk>"], unknownID: 1))
        XCTAssertEqual(withUnk.encode("ac"), [0])
    }

    // Llama 3 vocabulary (byte-level spelling: Ġ = space, Ċ = newline):
    //  0 I  1 '  2 M  3 Ġ  4 1  5 2  6 3  7 4  8 5  9 !  10 Ċ  11 o  12 k  13 a  14 b
    // 15 'M  16 12  17 123  18 45  19 Ġo  20 Ġok  21 !!  22 ĊĊ  23 !!ĊĊ  24 Ġab (no merge makes it)
    static let llama3 = TokenizerVocabulary(
        model: "gpt2", pre: "llama3",
        tokens: ["I", "'", "M", "Ġ", "1", "2", "3", "4", "5", "!", "Ċ", "o", "k", "a", "b",
                 "'M", "12", "123", "45", "Ġo", "Ġok", "!!", "ĊĊ", "!!ĊĊ", "Ġab"],
        merges: ["' M", "1 2", "12 3", "4 5", "Ġ o", "Ġo k", "! !", "Ċ Ċ", "!! ĊĊ"],
        bosID: 0, addBOS: false)

    /// "I'M 12345!!\n\n ok ab" with the llama3 pattern splits into
    ///   "I" (letters) | "'M" (case-insensitive contraction) | " " (a lone space before a digit)
    ///   | "123" "45" (digits in threes) | "!!\n\n" (punctuation then its newlines) | " ok" | " ab"
    /// (checked against Python `regex`). BPE per piece:
    ///   I → 0; 'M: ' M → 15; Ġ → 3; 123: 1 2 → 12, 12 3 → 123 = 17; 45 → 18;
    ///   !!ĊĊ: ! ! (rank 6) before Ċ Ċ (rank 7) → !! ĊĊ → !!ĊĊ = 23; Ġok: Ġ o → Ġo, Ġo k → Ġok = 20;
    ///   Ġab: no merges lead there, but llama3 ignores merges for a word that is itself a token → 24.
    func testLlama3PreTokenizerAndIgnoreMerges() throws {
        let tok = try Tokenizer(vocabulary: Self.llama3)
        let text = "I'M 12345!!\n\n ok ab"
        let ids = tok.encode(text, addSpecial: false)
        XCTAssertEqual(ids, [0, 15, 3, 17, 18, 23, 20, 24])
        XCTAssertEqual(tok.decode(ids), text)

        // The same vocabulary with the gpt2 pre-tokenizer applies merges to " ab": Ġ a b = 3 13 14.
        var v = Self.llama3
        v.pre = "gpt2"
        XCTAssertEqual(try Tokenizer(vocabulary: v).encode(" ab"), [3, 13, 14])
    }

    /// Without explicit add_bos_token, a llama3 GGUF adds BOS (llama.cpp's default).
    func testLlama3MetadataDefaultsAddBOS() throws {
        let v = try TokenizerVocabulary(metadata: [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string("llama-bpe"),
            "tokenizer.ggml.tokens": .array(.string(["a", "<|begin_of_text|>"])),
            "tokenizer.ggml.bos_token_id": .uint32(1),
        ])
        XCTAssertTrue(v.addBOS)
        XCTAssertEqual(try Tokenizer(vocabulary: v).encode("a"), [1, 0])
    }
}
