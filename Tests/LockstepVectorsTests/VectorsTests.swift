import Foundation
import XCTest
import Lockstep
@testable import LockstepVectors

/// The committed vectors: they pass on every backend here, regenerate byte for byte, and a
/// deliberately wrong kernel is caught and named.
final class VectorsTests: XCTestCase {
    private func failureList(_ report: VectorReport) -> String {
        report.failures.prefix(20).map { "\($0.name) [\($0.backend)]: \($0.status)" }.joined(separator: "\n")
    }

    func testCommittedVectorsPassOnEveryAvailableBackend() throws {
        let backends = VectorsFixture.availableBackends()
        XCTAssertTrue(backends.contains { $0.name == "reference" })
        let report = try VectorRunner(directory: VectorsFixture.directory).run(backends: backends)
        XCTAssertTrue(report.allPassed, "failing vectors:\n" + failureList(report))
        XCTAssertTrue(report.uncheckedFields.isEmpty, "unchecked expected fields: \(report.uncheckedFields)")
        // Every op group and model group ran, on every backend where it is a backend op.
        let groups = Set(report.groups)
        for g in ["ops/quantize", "ops/matmul_q8_0", "ops/matmul_q4_0", "ops/matmul_q4_1", "ops/exact_accumulator", "ops/attention",
                  "ops/ordered_sum", "ops/rms_norm", "ops/rope", "ops/silu_mul", "ops/add", "ops/softmax", "ops/q8_0_conversion",
                  "ops/exp32", "ops/exp64", "ops/log64", "ops/sincos64", "ops/sampler", "models/tiny"] {
            XCTAssertTrue(groups.contains(g), "\(g) did not run")
        }
        for b in backends {
            XCTAssertGreaterThan(report.outcomes.filter { $0.backend == b.name && $0.group == "models/tiny" && $0.status == .passed }.count, 0, b.name)
        }
        let real = report.outcomes.filter { $0.group == "models/smollm2-135m-instruct-q4_1" }
        if VectorsFixture.requireModel {
            XCTAssertFalse(real.isEmpty, "the real model's vectors are not committed")
            XCTAssertTrue(real.allSatisfy { $0.status == .passed }, "LOCKSTEP_REQUIRE_MODEL=1 but real-model vectors did not all run and pass")
        }
    }

    func testRegenerationIsByteIdenticalToTheCommittedFiles() throws {
        let (files, skipped) = try VectorCorpus.generate()
        let runner = VectorRunner(directory: VectorsFixture.directory)
        let committed = Set(try runner.paths())
        for f in files {
            let path = VectorsFixture.directory + "/" + f.path
            guard let data = FileManager.default.contents(atPath: path) else { XCTFail("\(f.path) is not committed"); continue }
            XCTAssertTrue(data == Data(f.text.utf8), "\(f.path) differs from its regeneration (run `lockstep vectors generate`)")
        }
        for s in skipped {
            if VectorsFixture.requireModel { XCTFail("\(s.path) was not generated: \(s.reason)") }
        }
        let generated = Set(files.map(\.path) + skipped.map(\.path))
        XCTAssertEqual(committed.subtracting(generated), [], "committed vector files the generator does not write")
        // A second generation gives the same text.
        let again = try VectorCorpus.generate().files
        XCTAssertEqual(again.map(\.text), files.map(\.text))
    }

    func testPerturbedMatmulFailsExactlyItsVectorsByName() throws {
        let runner = VectorRunner(directory: VectorsFixture.directory)
        for format in WeightFormat.allCases {
            let report = try runner.run(backends: [PerturbedBackend(.matmulLastBit(format))], library: false, include: { $0.hasPrefix("ops/") })
            let group = "ops/matmul_\(format.rawValue.lowercased())"
            let file = try runner.load(group + ".json")
            let expected = Set(file.groups.flatMap(\.tests).map { "\(group) #\($0.tcId)" })
            XCTAssertFalse(expected.isEmpty)
            XCTAssertEqual(Set(report.failures.map(\.name)), expected, "perturbed \(format.rawValue)")
            for f in report.failures {
                guard case .failed(let why) = f.status else { continue }
                XCTAssertTrue(why.hasPrefix("y[0]:"), why)
            }
            XCTAssertTrue(report.table().contains("FAIL \(group) #1 [perturbed]"))
        }
    }

    func testPerturbedTieRuleInQuantisationFailsExactlyTheTieVectors() throws {
        let runner = VectorRunner(directory: VectorsFixture.directory)
        let report = try runner.run(backends: [PerturbedBackend(.quantizeTiesAway)], library: false, include: { $0.hasPrefix("ops/") })
        // Independently: the quantisation vectors holding a value whose scaled magnitude is
        // k + 1/2 with k even (where ties-to-even and ties-away differ).
        let file = try runner.load("ops/quantize.json")
        var expected = Set<String>()
        for g in file.groups {
            let columns = g["columns"]!.int!
            for t in g.tests {
                let x = try TensorField(t.inputs["x"], name: "x").floats
                let exponents = try TensorField(t.expected["exponent"], name: "exponent").int32s
                let blocks = (columns + 31) / 32
                let differs = x.indices.contains { i in
                    guard x[i].isFinite else { return false }
                    let e = exponents[(i / columns) * blocks + (i % columns) / 32]
                    let s = (Double(x[i]) * Double(sign: .plus, exponent: Int(-e), significand: 1)).magnitude
                    return s - s.rounded(.down) == 0.5 && Int(s.rounded(.down)) % 2 == 0 && s < 32767
                }
                if differs { expected.insert("ops/quantize #\(t.tcId)") }
            }
        }
        XCTAssertTrue(expected.contains("ops/quantize #1"), "SPEC B.1 holds ties 1.5 and 2.5")
        XCTAssertEqual(Set(report.failures.map(\.name)), expected)
        XCTAssertTrue(report.failures.allSatisfy { $0.backend == "perturbed" })
    }

    func testPerturbedMatmulFailsTheTinyModelsThatUseThatFormat() throws {
        let runner = VectorRunner(directory: VectorsFixture.directory)
        let report = try runner.run(backends: [PerturbedBackend(.matmulLastBit(.q8_0))], library: false, include: { $0 == "models/tiny" })
        let file = try runner.load("models/tiny.json")
        var expected = Set<String>()
        for g in file.groups {
            let spec = try ModelVectors.spec(g["spec"])
            let converted: Set<GGMLType> = [.q8_0, .f32, .f16, .bf16]     // matrices that become Q8_0
            let usesQ8 = converted.contains(spec.weightType) || (spec.tiedOutput && converted.contains(spec.embeddingType))
            if usesQ8 { for t in g.tests { expected.insert("models/tiny #\(t.tcId)") } }
        }
        XCTAssertFalse(expected.isEmpty)
        XCTAssertEqual(Set(report.failures.map(\.name)), expected)
        XCTAssertGreaterThan(report.passedCount, 0, "models without Q8_0 matrices still pass")
    }

    func testContractVersionMismatchFailsEveryVectorOfTheFile() throws {
        let dir = try VectorsFixture.copy(["ops/add.json"]) { _, text in
            text = text.replacingOccurrences(of: "\"contractVersion\": \"\(ContractVersion.current)\"", with: "\"contractVersion\": \"0.0-test\"")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try VectorRunner(directory: dir).run(backends: [ReferenceBackend()])
        XCTAssertFalse(report.outcomes.isEmpty)
        XCTAssertTrue(report.outcomes.allSatisfy(\.failed))
        guard case .failed(let why) = report.failures[0].status else { return XCTFail() }
        XCTAssertTrue(why.contains("0.0-test"), why)
    }

    func testUnknownExpectedFieldsAreReportedNotFailed() throws {
        // How a later output (e.g. a model vector's traceRoot) joins the format.
        let dir = try VectorsFixture.copy(["ops/add.json"]) { _, text in
            text = text.replacingOccurrences(of: "\"expected\": {", with: "\"expected\": {\n\"traceRoot\": \"00\",")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try VectorRunner(directory: dir).run(backends: [ReferenceBackend()])
        XCTAssertTrue(report.allPassed, failureList(report))
        XCTAssertEqual(report.uncheckedFields, ["traceRoot"])
        XCTAssertTrue(report.table().contains("expected field 'traceRoot' is not checked"))
    }

    func testACorruptedExpectedValueIsNamed() throws {
        let dir = try VectorsFixture.copy(["ops/matmul_q8_0.json", "ops/sampler.json"]) { path, text in
            if path.hasSuffix("matmul_q8_0.json") { text = text.replacingOccurrences(of: "\"hex\": \"64b117c2\"", with: "\"hex\": \"65b117c2\"") }
            if path.hasSuffix("sampler.json") {
                // The first greedy test ([1, 3, 3, 2] → 1) claims 2.
                if let r = text.range(of: "\"token\": 1") { text.replaceSubrange(r, with: "\"token\": 2") }
            }
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = try VectorRunner(directory: dir).run(backends: [ReferenceBackend()])
        let names = Set(report.failures.map(\.name))
        XCTAssertTrue(names.contains("ops/matmul_q8_0 #1"), "\(names)")
        XCTAssertEqual(names.filter { $0.hasPrefix("ops/sampler") }.count, 1, "\(names)")
        XCTAssertEqual(names.count, 2)
        let json = report.json()
        XCTAssertEqual(json["failed"]?.int, 2)
        XCTAssertEqual(json["failures"]?.array?.count, 2)
    }

    func testMalformedFilesAreRejectedWithTheirPath() throws {
        let dir = try VectorsFixture.copy(["ops/add.json"]) { _, text in text = String(text.dropLast(10)) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try VectorRunner(directory: dir).run(backends: [ReferenceBackend()])) { error in
            XCTAssertTrue("\(error)".contains("ops/add.json"), "\(error)")
        }
        let empty = try VectorsFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        XCTAssertThrowsError(try VectorRunner(directory: empty).paths())
        // A FIFO named like a vector file is refused, not waited on.
        try FileManager.default.createDirectory(atPath: empty + "/ops", withIntermediateDirectories: false)
        XCTAssertEqual(mkfifo(empty + "/ops/fifo.json", 0o600), 0)
        XCTAssertThrowsError(try VectorRunner(directory: empty).run(backends: [ReferenceBackend()])) { error in
            XCTAssertEqual("\(error)", "cannot read \(empty)/ops/fifo.json: not a regular file")
        }
    }

    func testEveryTestTypeAndFlagIsDocumented() throws {
        let readme = try String(contentsOfFile: VectorsFixture.directory + "/README.md", encoding: .utf8)
        let runner = VectorRunner(directory: VectorsFixture.directory)
        for path in try runner.paths() {
            let file = try runner.load(path)
            XCTAssertTrue(readme.contains("`\(path.split(separator: "/").last!)`") || path.hasPrefix("models/"), "\(path) not in README")
            for g in file.groups {
                XCTAssertTrue(readme.contains(g.type), "test type \(g.type) not in README")
                for t in g.tests { for f in t.flags { XCTAssertTrue(file.notes.contains { $0.0 == f }, "\(path) #\(t.tcId): flag \(f) has no note") } }
            }
            XCTAssertEqual(file.contractVersion, ContractVersion.current, path)
        }
    }
}
