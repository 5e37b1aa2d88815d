import Foundation
import XCTest
import Lockstep

/// Every malformed GGUF makes `lockstep info` and `lockstep generate` exit non-zero with a
/// message naming the problem, its control characters escaped — never a crash or a hang.
final class MalformedModelTests: XCTestCase {
    func testMalformedCorpusIsRejectedByInfoAndGenerate() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = GGUFMalformedCorpus.cases()
        XCTAssertGreaterThan(cases.count, 20)
        for c in cases {
            let path = dir.appendingPathComponent("\(c.id).gguf").path
            try Data(c.bytes).write(to: URL(fileURLWithPath: path))
            for args in [["info", "--model", path], ["generate", "--model", path, "--prompt", "hi", "--max-tokens", "1"]] {
                let r = try CLIRunner.run(args, timeout: 30)
                XCTAssertFalse(r.crashed, "\(c.id): \(args[0]) crashed")
                XCTAssertNotEqual(r.status, 0, "\(c.id): \(args[0]) exited 0")
                XCTAssertTrue(r.stderr.contains(c.expectedMessageFragment), "\(c.id): \(args[0]) said \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(path), "\(c.id): the message does not name the file: \(r.stderr)")
                XCTAssertFalse(r.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" },
                               "\(c.id): the message has a control character: \(r.stderr.debugDescription)")
            }
        }
    }

    func testTruncatedTinyModelIsRejectedAtEverySection() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = TinyModel.gguf(TinyModelSpec())
        // Cut inside the header, the metadata, the tensor table and the tensor data.
        for cut in [3, 12, 40, 1000, bytes.count / 3, bytes.count - 1] {
            let path = dir.appendingPathComponent("cut-\(cut).gguf").path
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run(["info", "--model", path], timeout: 30)
            XCTAssertFalse(r.crashed)
            XCTAssertNotEqual(r.status, 0, "cut at \(cut) accepted")
            XCTAssertTrue(r.stderr.contains("lockstep: error:"), r.stderr)
        }
    }

    func testWellFormedGGUFThatIsNotAModelIsRejected() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("base.gguf").path
        try Data(GGUFMalformedCorpus.baseFile()).write(to: URL(fileURLWithPath: path))
        let r = try CLIRunner.run(["generate", "--model", path, "--prompt", "hi"], timeout: 30)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("general.architecture") || r.stderr.contains("missing"), r.stderr)
    }
}
