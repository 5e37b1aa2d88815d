import XCTest
import LockstepGGUF
import LockstepModel

/// Loading a model whose metadata is hostile fails with a short message that names the key and
/// describes the value (clipped, control characters escaped), and it checks what is cheap to check
/// before building what is expensive.
final class HostileMetadataTests: XCTestCase {
    /// The standard tiny model with `changes` applied to its metadata (a nil value removes the key).
    private func tinyModel(_ changes: [String: GGUFValue?]) throws -> GGUFFile {
        let base = try GGUFFile(bytes: TinyModel.gguf(TinyModelSpec()), name: "tiny.gguf")
        var w = GGUFWriter(version: base.version, alignment: base.alignment)
        for key in base.metadataKeys where changes[key] == nil { w.set(key, base.metadata[key]!) }
        for (key, value) in changes { if let value { w.set(key, value) } }
        for t in base.tensors {
            w.addTensor(name: t.name, dimensions: t.dimensions, type: t.type, data: Array(base.data(for: t)))
        }
        return try GGUFFile(bytes: w.serialize(), name: "tiny.gguf")
    }

    /// The message `LlamaModel` refuses the tiny model with once `changes` are applied.
    private func refusal(_ changes: [String: GGUFValue?], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        do {
            _ = try LlamaModel(file: tinyModel(changes))
            XCTFail("the model loaded", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testUnchangedTinyModelLoads() throws {
        XCTAssertNoThrow(try LlamaModel(file: tinyModel([:])))
    }

    func testNonIntegerWhereAnIntegerIsExpectedNamesItsType() throws {
        let huge = GGUFValue.array(.uint8([UInt8](repeating: 0, count: 1_000_000)))
        XCTAssertEqual(try refusal(["llama.context_length": huge]),
                       "tiny.gguf: metadata 'llama.context_length': expected an integer, found an array of 1000000 uint8 values")
        XCTAssertEqual(try refusal(["llama.attention.value_length": .string("16")]),
                       "tiny.gguf: metadata 'llama.attention.value_length': expected an integer, found string \"16\"")
        XCTAssertEqual(try refusal(["llama.attention.value_length": .uint32(8)]),
                       "tiny.gguf: metadata 'llama.attention.value_length': 8 differs from key_length 16 (unsupported)")
        XCTAssertEqual(try refusal(["llama.rope.freq_base": .string(String(repeating: "9", count: 1_000_000))]),
                       "tiny.gguf: metadata 'llama.rope.freq_base': expected a finite binary32 number, found string \""
                       + String(repeating: "9", count: GGUFValue.quotedScalarLimit) + "…\"")
    }

    func testStringsFromTheFileAreEscaped() throws {
        XCTAssertEqual(try refusal(["general.architecture": .string("llama\u{1B}[2J\n")]),
                       #"tiny.gguf: metadata 'general.architecture': "llama\u{1B}[2J\u{A}" is not supported (only "llama")"#)
        XCTAssertEqual(try refusal(["general.architecture": .array(.string(["llama"]))]),
                       "tiny.gguf: metadata 'general.architecture': expected a string, found an array of 1 string values")
        XCTAssertEqual(try refusal(["general.architecture": nil]), "tiny.gguf: metadata 'general.architecture': missing")
    }

    func testRopeScalingTypeMustBeTheStringNone() throws {
        XCTAssertEqual(try refusal(["llama.rope.scaling.type": .uint32(1)]),
                       "tiny.gguf: metadata 'llama.rope.scaling.type': expected a string, found uint32 1")
        XCTAssertEqual(try refusal(["llama.rope.scaling.type": .string("yarn")]),
                       "tiny.gguf: metadata 'llama.rope.scaling.type': \"yarn\" is not supported (only \"none\")")
        XCTAssertNoThrow(try LlamaModel(file: tinyModel(["llama.rope.scaling.type": .string("none")])))
    }

    func testTokenCountIsCheckedBeforeTheTokenizerIsBuilt() throws {
        // Two tokens (the tiny model has more rows) and a merge naming a third: the count is refused
        // before building the tokenizer would find the merge.
        XCTAssertEqual(try refusal(["tokenizer.ggml.tokens": .array(.string(["a", "b"])), "tokenizer.ggml.token_type": nil,
                                    "tokenizer.ggml.merges": .array(.string(["a c"]))]),
                       "tiny.gguf: tokenizer has 2 tokens but token_embd.weight has \(TinyModel.vocabularySize) rows")
    }
}
