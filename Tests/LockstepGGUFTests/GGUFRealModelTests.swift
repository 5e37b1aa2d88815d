import XCTest
import LockstepGGUF

/// Smoke test against SmolLM2-135M-Instruct Q4_1. Skipped when the file is absent, unless
/// `LOCKSTEP_REQUIRE_MODEL=1`, which turns absence into a failure.
///
/// Path: `$LOCKSTEP_MODEL`, else `$LOCKSTEP_CACHE` (default `~/.cache/lockstep`) +
/// `/SmolLM2-135M-Instruct.Q4_1.gguf`.
final class GGUFRealModelTests: XCTestCase {
    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["LOCKSTEP_MODEL"], !p.isEmpty { return p }
        let cache = env["LOCKSTEP_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.cache/lockstep")
        return cache + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    func openModel() throws -> GGUFFile {
        let path = Self.modelPath
        if !FileManager.default.fileExists(atPath: path) {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_MODEL"] == "1" {
                XCTFail("model not found at \(path) and LOCKSTEP_REQUIRE_MODEL=1")
                throw GGUFError(path: path, offset: nil, field: nil, message: "model required but missing")
            }
            throw XCTSkip("model not found at \(path) (set LOCKSTEP_MODEL or LOCKSTEP_CACHE)")
        }
        return try GGUFFile(path: path)
    }

    func testSmolLM2Structure() throws {
        let f = try openModel()
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.tensors.count, 272)
        XCTAssertEqual(f.metadata["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.arrayValue?.strings?.count, 49152)
        XCTAssertEqual(f.metadata["tokenizer.ggml.token_type"]?.arrayValue?.count, 49152)
        XCTAssertEqual(f.metadata["tokenizer.ggml.merges"]?.arrayValue?.count, 48900)
        XCTAssertEqual(f.metadata["llama.embedding_length"]?.intValue, 576)
        XCTAssertEqual(f.metadataKeys.first, "general.architecture")
        XCTAssertEqual(f.metadataKeys.count, f.metadata.count)

        let embd = try XCTUnwrap(f.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embd.type, .q8_0)
        XCTAssertEqual(embd.dimensions, [576, 49152])
        XCTAssertEqual(embd.byteCount, 576 / 32 * 34 * 49152)
        // Absolute data position as reported by the python `gguf` package.
        XCTAssertEqual(f.dataOffset + embd.offset, 1785664)
        let types = Dictionary(grouping: f.tensors, by: \.type).mapValues(\.count)
        XCTAssertEqual(types, [.q4_1: 210, .f32: 61, .q8_0: 1])

        // Data is readable end to end; the last tensor lies within the file.
        let data = f.data(for: embd)
        XCTAssertEqual(data.count, embd.byteCount)
        let maxEnd = f.tensors.map { f.dataOffset + $0.offset + $0.byteCount }.max()!
        XCTAssert(maxEnd <= f.fileSize)
        XCTAssertEqual(f.withBytes { $0.count }, f.fileSize)
    }

    func testMetadataParsesQuickly() throws {
        _ = try openModel()  // warm the page cache; skip if absent
        let clock = ContinuousClock()
        var best = Duration.seconds(100)
        for _ in 0..<3 {
            let elapsed = try clock.measure { _ = try GGUFFile(path: Self.modelPath) }
            best = min(best, elapsed)
        }
        // Debug build target is well under 0.5 s; allow slack for a loaded machine.
        XCTAssertLessThan(best, .seconds(1.5), "parsing took \(best)")
        print("GGUFRealModelTests: best parse time \(best)")
    }
}
