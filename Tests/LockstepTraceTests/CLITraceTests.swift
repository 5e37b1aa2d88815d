import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

/// `lockstep keygen` and `lockstep generate --trace`, run as the built executable.
final class CLITraceTests: XCTestCase {
    private func lockstep(_ arguments: [String]) throws -> BuiltProduct.Result {
        try BuiltProduct.run("lockstep", arguments)
    }

    /// A key that cannot be written (a file-size limit of zero, as a full disk) is an error naming
    /// the file and the reason, and leaves no empty key file behind to be mistaken for one later.
    func testKeygenThatCannotWriteLeavesNoFile() throws {
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyPath = dir.appendingPathComponent("node.key").path
        let r = try BuiltProduct.run("lockstep", ["keygen", "--out", keyPath], fileSizeLimit: 0)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(keyPath): write failed (File too large)"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: keyPath))
    }

    func testKeygenAndTracedGenerate() throws {
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.gguf").path
        XCTAssertEqual(try lockstep(["tiny-model", "--out", model]).status, 0)
        let keyPath = dir.appendingPathComponent("node.key").path
        let keygen = try lockstep(["keygen", "--out", keyPath])
        XCTAssertEqual(keygen.status, 0, keygen.stderr)
        let publicHex = keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(publicHex.count, 64)
        XCTAssertEqual(try NodeKey.load(from: keyPath).publicKey.hex, publicHex)
        XCTAssertEqual(((try FileManager.default.attributesOfItem(atPath: keyPath))[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let again = try lockstep(["keygen", "--out", keyPath])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.hasPrefix("lockstep: error:"), again.stderr)

        let trace = dir.appendingPathComponent("t.trace").path
        let r = try lockstep(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5", "--json", "--trace", trace, "--key", keyPath])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let c = try XCTUnwrap(object["commitment"] as? [String: Any])
        for k in ["root", "leaf_count", "model_digest", "signature", "public_key", "final_chain", "contract_version"] { XCTAssertNotNil(c[k], k) }
        XCTAssertEqual(c["public_key"] as? String, publicHex)
        let signed = try SignedCommitment(jsonObject: c)
        XCTAssertNoThrow(try signed.verifySignature(publicKey: NodeKey.load(from: keyPath).publicKey))
        XCTAssertEqual(signed.commitment.outputTokens.map(Int.init), object["tokens"] as? [Int])
        // The file verifies and holds the same commitment.
        let contents = try TraceReader.read(path: trace, expectedPublicKey: signed.publicKey)
        XCTAssertEqual(contents.signed, signed)
        XCTAssertEqual(contents.tree.root.hex, c["root"] as? String)

        // Same request with activations and an ephemeral key: same root and leaves, a note on stderr.
        let trace2 = dir.appendingPathComponent("t2.trace").path
        let r2 = try lockstep(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5", "--trace", trace2, "--trace-activations"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("ephemeral key"), r2.stderr)
        let contents2 = try TraceReader.read(path: trace2)
        XCTAssertTrue(contents2.header.storesStates)
        XCTAssertEqual(contents2.leaves, contents.leaves)
        XCTAssertNotEqual(contents2.signed.publicKey, signed.publicKey)
        // Untraced output is unchanged by tracing.
        let plain = try lockstep(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5", "--json"])
        let plainObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(plainObject["tokens"] as? [Int], object["tokens"] as? [Int])
        XCTAssertNil(plainObject["commitment"])

        // Option errors.
        let noTrace = try lockstep(["generate", "--model", model, "--prompt", "x", "--key", keyPath])
        XCTAssertNotEqual(noTrace.status, 0)
        XCTAssertTrue(noTrace.stderr.contains("--trace"), noTrace.stderr)
        // The trace never replaces the model or the key it is made with (the model is memory-mapped:
        // truncating it under the running generation crashed it, and a replaced key is lost).
        let modelBytes = try Data(contentsOf: URL(fileURLWithPath: model)), keyBytes = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        for (target, why) in [(model, "is the model's file"), (keyPath, "is the key file")] {
            let r = try lockstep(["generate", "--model", model, "--prompt", "x", "--max-tokens", "2", "--trace", target, "--key", keyPath])
            XCTAssertFalse(r.crashed, r.stderr)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(why), r.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), modelBytes)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: keyPath)), keyBytes)
        chmod(keyPath, 0o644)
        let open = try lockstep(["generate", "--model", model, "--prompt", "x", "--trace", trace, "--key", keyPath])
        XCTAssertEqual(open.status, 1)
        XCTAssertTrue(open.stderr.contains("too open"), open.stderr)
    }

    /// Ctrl-C during generation stops after the token being chosen, with exit status 130, the
    /// text so far, a note, and a complete signed trace of the tokens generated, which replays.
    func testCtrlCStopsGenerationWithACompleteTrace() throws {
        _ = try TraceFixtures.real()   // the real model keeps generating long enough to be interrupted
        let dir = try TraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("ctrl-c.trace").path
        let model = ModelStore.realModelPath
        let r = try BuiltProduct.run("lockstep", ["generate", "--model", model, "--prompt", "Once upon a time", "--max-tokens", "4000",
                                                  "--trace", trace], interruptOnOutput: true)
        XCTAssertFalse(r.crashed, r.stderr)
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertFalse(r.stdout.isEmpty)
        XCTAssertTrue(r.stderr.contains("interrupted: stopped after"), r.stderr)
        let contents = try TraceReader.read(path: trace)
        let count = contents.signed.commitment.outputTokens.count
        XCTAssertTrue((1 ..< 4000).contains(count), "\(count) tokens")
        let replay = try BuiltProduct.run("lockstep-verify", ["replay", "--model", model, "--trace", trace])
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["ctrl-c.trace"])
    }
}
