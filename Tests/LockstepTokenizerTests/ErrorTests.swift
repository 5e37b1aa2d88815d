import LockstepGGUF
import XCTest
@testable import LockstepTokenizer

/// Invalid vocabularies and metadata give a TokenizerError naming what is wrong.
final class ErrorTests: XCTestCase {
    private func message(_ v: TokenizerVocabulary, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try Tokenizer(vocabulary: v)
            XCTFail("expected a TokenizerError", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    private func metadataMessage(_ m: [String: GGUFValue], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try TokenizerVocabulary(metadata: m)
            XCTFail("expected a TokenizerError", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    private func assertContains(_ message: String, _ parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        for p in parts { XCTAssertTrue(message.contains(p), "\"\(message)\" should mention \(p)", file: file, line: line) }
    }

    func testMergeNamingUnknownToken() {
        let m = message(TokenizerVocabulary(model: "gpt2", tokens: ["a", "b", "ab"], merges: ["a b", "a c"]))
        assertContains(m, "merge #1", "\"a c\"", "\"c\"", "not a token")
    }

    func testMergeProducingUnknownToken() {
        let m = message(TokenizerVocabulary(model: "gpt2", tokens: ["a", "b"], merges: ["a b"]))
        assertContains(m, "merge #0", "produces", "\"ab\"", "not a token")
    }

    func testMalformedMerge() {
        let m = message(TokenizerVocabulary(model: "gpt2", tokens: ["a", "b", "ab"], merges: ["ab"]))
        assertContains(m, "merge #0", "\"ab\"", "left right")
    }

    func testUnknownModel() {
        let m = message(TokenizerVocabulary(model: "bert", tokens: ["a"]))
        assertContains(m, "unknown tokenizer model", "\"bert\"", "gpt2", "llama")
        // The name is checked before anything else.
        assertContains(message(TokenizerVocabulary(model: "t5", tokens: [], merges: ["x y"])), "\"t5\"")
    }

    func testNamesFromTheFileAreClippedAndEscaped() {
        let hostile = "\u{1B}[2J" + String(repeating: "x", count: 1_000_000)
        let clipped = #""\u{1B}[2J"# + String(repeating: "x", count: 36) + "…\""
        for m in [message(TokenizerVocabulary(model: hostile, tokens: ["a"])),
                  message(TokenizerVocabulary(model: "gpt2", pre: hostile, tokens: ["a"])),
                  message(TokenizerVocabulary(model: "gpt2", tokens: ["a"], merges: [hostile])),
                  message(TokenizerVocabulary(model: "gpt2", tokens: ["a"], merges: ["a " + hostile]))] {
            assertContains(m, clipped)
            XCTAssertLessThan(m.count, 400, m)
            XCTAssertFalse(m.contains("\u{1B}"), m)
        }
        let m = metadataMessage(["tokenizer.ggml.model": .array(.uint8([UInt8](repeating: 0, count: 1_000_000)))])
        XCTAssertEqual(m, "GGUF metadata tokenizer.ggml.model is an array of 1000000 uint8 values, expected a string")
    }

    func testUnknownPreTokenizer() {
        let m = message(TokenizerVocabulary(model: "gpt2", pre: "qwen2", tokens: ["a"]))
        assertContains(m, "unknown pre-tokenizer", "\"qwen2\"", "smollm", "llama3")
    }

    func testTokenIDOutOfRange() {
        assertContains(message(TokenizerVocabulary(model: "gpt2", tokens: ["a", "b", "c"], bosID: 3)),
                       "bosID", "3", "out of range", "3 tokens")
        assertContains(message(TokenizerVocabulary(model: "gpt2", tokens: ["a"], eosID: -1)), "eosID", "-1", "out of range")
        assertContains(message(TokenizerVocabulary(model: "llama", tokens: ["a"], unknownID: 7)), "unknownID", "7")
    }

    func testInconsistentArraysAndFlags() {
        assertContains(message(TokenizerVocabulary(model: "llama", tokens: ["a", "b"], scores: [0])), "2 tokens", "1 scores")
        assertContains(message(TokenizerVocabulary(model: "llama", tokens: ["a"], tokenTypes: [1, 1])), "2 token types")
        assertContains(message(TokenizerVocabulary(model: "gpt2", tokens: ["a"], addBOS: true)), "addBOS", "no bosID")
        assertContains(message(TokenizerVocabulary(model: "gpt2", tokens: [])), "no tokens")
    }

    func testMetadataErrorsNameKeyAndValue() {
        let tokens: GGUFValue = .array(.string(["a", "b"]))
        assertContains(metadataMessage(["tokenizer.ggml.tokens": tokens]), "tokenizer.ggml.model")
        assertContains(metadataMessage(["tokenizer.ggml.model": .uint32(3), "tokenizer.ggml.tokens": tokens]),
                       "tokenizer.ggml.model", "uint32 3", "expected a string")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2")]), "tokenizer.ggml.tokens")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": .array(.int32([1, 2]))]),
                       "tokenizer.ggml.tokens", "int32", "array of strings")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens,
                                        "tokenizer.ggml.bos_token_id": .string("1")]),
                       "tokenizer.ggml.bos_token_id", "string \"1\"", "integer")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens,
                                        "tokenizer.ggml.eos_token_id": .uint64(1 << 40)]),
                       "tokenizer.ggml.eos_token_id", "1099511627776")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": tokens,
                                        "tokenizer.ggml.scores": .array(.float32([0]))]),
                       "tokenizer.ggml.scores", "1 elements", "2")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens,
                                        "tokenizer.ggml.add_bos_token": .uint8(1)]),
                       "tokenizer.ggml.add_bos_token", "uint8 1", "bool")
        assertContains(metadataMessage(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens,
                                        "tokenizer.ggml.merges": .string("a b")]),
                       "tokenizer.ggml.merges", "string \"a b\"", "array")
    }

    func testErrorDescriptionIsTheMessage() {
        let e = TokenizerError("something")
        XCTAssertEqual(e.description, "something")
        XCTAssertEqual("\(e)", "something")
    }
}
