import Foundation
import LockstepGGUF
import XCTest
@testable import LockstepTokenizer

/// Locating and loading the real model's tokenizer, and the reference fixtures.
enum TestModel {
    /// `$LOCKSTEP_MODEL`, else `$LOCKSTEP_CACHE` (default `~/.cache/lockstep`)/SmolLM2-135M-Instruct.Q4_1.gguf.
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["LOCKSTEP_MODEL"], !p.isEmpty { return p }
        let dir = env["LOCKSTEP_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/lockstep")
        return (dir as NSString).appendingPathComponent("SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    /// The tokenizer read from the real GGUF, loaded once per test run.
    private static let loaded: Result<Tokenizer, LoadError>? = {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let metadata = try GGUFFile(path: path).metadata
            return .success(try Tokenizer(vocabulary: TokenizerVocabulary(metadata: metadata)))
        } catch {
            return .failure(LoadError(description: "loading the tokenizer of \(path): \(error)"))
        }
    }()

    struct LoadError: Error, Sendable, CustomStringConvertible {
        let description: String
    }

    /// The real model's tokenizer; skips the test when the model file is absent, unless
    /// `LOCKSTEP_REQUIRE_MODEL=1`, in which case the test fails.
    static func tokenizer() throws -> Tokenizer {
        guard let loaded else {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_MODEL"] == "1" {
                throw LoadError(description: "model file \(path) is missing and LOCKSTEP_REQUIRE_MODEL=1")
            }
            throw XCTSkip("model file \(path) not present (set LOCKSTEP_MODEL, or LOCKSTEP_REQUIRE_MODEL=1 to fail instead)")
        }
        return try loaded.get()
    }
}

/// `Fixtures/reference_ids.json`, made by `Fixtures/make_reference_ids.py` with the reference tokenizer.
struct ReferenceFixture: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int32]
        var pretokens: [String: [String]]
    }
    struct Prose: Decodable {
        var text: String
        var ids: [Int32]
    }
    var model: String
    var cases: [Case]
    var prose: Prose

    static func load() throws -> ReferenceFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reference_ids.json")
        return try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
    }
}

/// Unicode scalars of a string, for exact (not canonical-equivalence) comparisons.
func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }
