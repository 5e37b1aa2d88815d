import Foundation
import XCTest

/// `lockstep vectors run` and `generate` as a user runs them.
final class VectorsCLITests: XCTestCase {
    private struct Result { var status: Int32; var stdout: String; var stderr: String }

    private func lockstep(_ arguments: [String]) throws -> Result {
        let products = Bundle.main.bundleURL.lastPathComponent.hasSuffix("xctest")
            ? Bundle.main.bundleURL.deletingLastPathComponent()
            : URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let binary = products.appendingPathComponent("lockstep")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("lockstep not built at \(binary.path)") }
        let dir = try VectorsFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = URL(fileURLWithPath: dir + "/out"), err = URL(fileURLWithPath: dir + "/err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8))
    }

    func testRunPrintsTheTableAndPasses() throws {
        let r = try lockstep(["vectors", "run", "--backend", "reference", "--dir", VectorsFixture.directory, "--only", "ops/"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("vector group"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ops/matmul_q4_1"), r.stdout)
        XCTAssertTrue(r.stdout.contains(" 0 failed"), r.stdout)
    }

    func testRunExitsOneNamingTheFailingVector() throws {
        let dir = try VectorsFixture.copy(["ops/matmul_q8_0.json"]) { _, text in
            text = text.replacingOccurrences(of: "\"hex\": \"64b117c2\"", with: "\"hex\": \"65b117c2\"")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try lockstep(["vectors", "run", "--backend", "reference", "--dir", dir])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("FAIL ops/matmul_q8_0 #1 [reference]"), r.stdout)
        let j = try lockstep(["vectors", "run", "--backend", "reference", "--dir", dir, "--json"])
        XCTAssertEqual(j.status, 1)
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["failed"] as? Int, 1)
    }

    func testErrorsAreReported() throws {
        let r = try lockstep(["vectors", "run", "--backend", "nonesuch", "--dir", VectorsFixture.directory])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("lockstep: error: unknown backend 'nonesuch'"), r.stderr)
        let empty = try VectorsFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let e = try lockstep(["vectors", "run", "--dir", empty])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("no vector files"), e.stderr)
    }
}
