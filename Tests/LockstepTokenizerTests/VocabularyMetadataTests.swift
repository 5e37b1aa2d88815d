import LockstepGGUF
import XCTest
@testable import LockstepTokenizer

final class VocabularyMetadataTests: XCTestCase {
    func testReadsEveryKey() throws {
        let v = try TokenizerVocabulary(metadata: [
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.pre": .string("default"),
            "tokenizer.ggml.tokens": .array(.string(["<unk>", "<s>", "</s>", "▁a"])),
            "tokenizer.ggml.scores": .array(.float32([0, 0, 0, -1.5])),
            "tokenizer.ggml.token_type": .array(.int32([2, 3, 3, 1])),
            "tokenizer.ggml.merges": .array(.string([])),
            "tokenizer.ggml.bos_token_id": .uint32(1),
            "tokenizer.ggml.eos_token_id": .int32(2),
            "tokenizer.ggml.unknown_token_id": .uint64(0),
            "tokenizer.ggml.padding_token_id": .uint16(2),
            "tokenizer.ggml.eot_token_id": .uint32(2),
            "tokenizer.ggml.add_eos_token": .bool(true),
            "tokenizer.ggml.add_space_prefix": .bool(false),
            "tokenizer.chat_template": .string("<|im_start|>"),
        ])
        XCTAssertEqual(v, TokenizerVocabulary(
            model: "llama", pre: "default", tokens: ["<unk>", "<s>", "</s>", "▁a"], scores: [0, 0, 0, -1.5],
            tokenTypes: [2, 3, 3, 1], merges: [], bosID: 1, eosID: 2, unknownID: 0, paddingID: 2, eotID: 2,
            addBOS: true, addEOS: true, addSpacePrefix: false, chatTemplate: "<|im_start|>"))
    }

    func testDefaults() throws {
        let v = try TokenizerVocabulary(metadata: [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.tokens": .array(.string(["a"])),
        ])
        XCTAssertNil(v.pre)
        XCTAssertEqual(v.merges, [])
        XCTAssertNil(v.scores)
        XCTAssertNil(v.tokenTypes)
        XCTAssertNil(v.bosID)
        XCTAssertFalse(v.addBOS)
        XCTAssertFalse(v.addEOS)
        XCTAssertNil(v.chatTemplate)
        // No pre means "default" = the gpt2 pattern.
        XCTAssertEqual(try Tokenizer(vocabulary: v).encode("aa a"), [0, 0, 0])  // " a" has no Ġ token: dropped
    }

    /// Token types of every integer type are read as 32-bit values, and their count is checked
    /// against the tokens' before any element is converted.
    func testTokenTypesAreCountedBeforeTheyAreConverted() throws {
        func read(_ types: GGUFArray) throws -> [Int32]? {
            try TokenizerVocabulary(metadata: [
                "tokenizer.ggml.model": .string("gpt2"),
                "tokenizer.ggml.tokens": .array(.string(["a", "b"])),
                "tokenizer.ggml.token_type": .array(types),
            ]).tokenTypes
        }
        func refusal(_ types: GGUFArray) -> String {
            do { _ = try read(types); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(try read(.uint8([1, 3])), [1, 3])
        XCTAssertEqual(try read(.int16([-1, 6])), [-1, 6])
        XCTAssertEqual(try read(.uint64([4, 5])), [4, 5])
        XCTAssertEqual(refusal(.uint64([1 << 63])),
                       "GGUF metadata tokenizer.ggml.token_type has 1 elements but tokenizer.ggml.tokens has 2")
        XCTAssertEqual(refusal(.uint8([UInt8](repeating: 1, count: 1_000_000))),
                       "GGUF metadata tokenizer.ggml.token_type has 1000000 elements but tokenizer.ggml.tokens has 2")
        XCTAssertEqual(refusal(.int64([1, 1 << 40])),
                       "GGUF metadata tokenizer.ggml.token_type[1] is 1099511627776, which does not fit a 32-bit token type")
        XCTAssertEqual(refusal(.uint64([1 << 63, 1])),
                       "GGUF metadata tokenizer.ggml.token_type[0] is 9223372036854775808, which does not fit a 32-bit token type")
        XCTAssertEqual(refusal(.float32([1, 1])),
                       "GGUF metadata tokenizer.ggml.token_type is an array of 2 float32 values, expected an array of integers")
    }

    /// The real model's metadata, read with the test GGUF reader.
    func testRealModelMetadata() throws {
        _ = try TestModel.tokenizer()  // skips when the model is absent
        let metadata = try GGUFFile(path: TestModel.path).metadata
        XCTAssertEqual(metadata["general.architecture"], .string("llama"))
        let v = try TokenizerVocabulary(metadata: metadata)
        XCTAssertEqual(v.tokens.count, 49152)
        XCTAssertEqual(v.tokens[1], "<|im_start|>")
        XCTAssertEqual(v.merges.first, "Ġ t")
        XCTAssertEqual(v.tokenTypes?.filter { $0 == TokenType.control }.count, 17)
        XCTAssertEqual(v.unknownID, 0)
        XCTAssertEqual(v.paddingID, 2)
        XCTAssertTrue(v.chatTemplate?.contains("<|im_start|>") ?? false)
    }
}
