import Foundation
import LockstepCore
import LockstepGGUF
import LockstepModel
import LockstepNative

/// The result of one vector on one backend (or on the library).
public struct VectorOutcome: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }

    /// The vector group: the file's path under the vectors directory without `.json`
    /// (`"ops/quantize"`, `"models/tiny"`).
    public let group: String
    /// The backend's name, or `"library"` for checks of library functions.
    public let backend: String
    public let tcId: Int
    public let comment: String
    public let status: Status

    /// `group #tcId`, the vector's name in reports.
    public var name: String { "\(group) #\(tcId)" }
    public var failed: Bool { if case .failed = status { return true } else { return false } }
    public var skipped: Bool { if case .skipped = status { return true } else { return false } }
}

/// Outcomes of a run, with the table and JSON the CLI prints.
public struct VectorReport: Sendable {
    public var outcomes: [VectorOutcome] = []
    /// Column order: `library`, then the backends in the order run.
    public var columns: [String] = []
    /// Backends that could not run, with the reason.
    public var unavailable: [(name: String, reason: String)] = []
    /// Fields present in `expected` that this runner does not check (e.g. a future `traceRoot`).
    public var uncheckedFields: Set<String> = []

    public var failures: [VectorOutcome] { outcomes.filter(\.failed) }
    public var passedCount: Int { outcomes.filter { $0.status == .passed }.count }
    public var skippedCount: Int { outcomes.filter(\.skipped).count }
    public var allPassed: Bool { failures.isEmpty }

    /// Groups in first-seen order.
    public var groups: [String] {
        var seen = Set<String>(), out: [String] = []
        for o in outcomes where seen.insert(o.group).inserted { out.append(o.group) }
        return out
    }

    /// A table of vector groups × backends with pass/fail counts, then one line per failure.
    public func table() -> String {
        let cols = columns.filter { c in outcomes.contains { $0.backend == c } }
        var rows: [[String]] = [["vector group"] + cols]
        for g in groups {
            var row = [g]
            for c in cols {
                let os = outcomes.filter { $0.group == g && $0.backend == c }
                if os.isEmpty { row.append("-"); continue }
                let failed = os.filter(\.failed).count, skipped = os.filter(\.skipped).count
                let ran = os.count - skipped
                var cell = ran > 0 ? "\(ran - failed)/\(ran)" : ""
                if failed > 0 { cell += " FAIL" }
                if skipped > 0 { cell += (cell.isEmpty ? "" : " ") + "\(skipped) skipped" }
                row.append(cell)
            }
            rows.append(row)
        }
        let widths = (0 ..< rows[0].count).map { i in rows.map { $0[i].count }.max()! }
        var out = ""
        for row in rows {
            out += zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        for u in unavailable { out += "unavailable: \(u.name): \(u.reason)\n" }
        for f in uncheckedFields.sorted() { out += "note: expected field '\(f)' is not checked by this runner\n" }
        for f in failures {
            if case .failed(let why) = f.status { out += "FAIL \(f.name) [\(f.backend)] \(f.comment): \(why)\n" }
        }
        out += "\(passedCount) passed, \(failures.count) failed, \(skippedCount) skipped\n"
        return out
    }

    /// The report as one JSON object.
    public func json() -> JSON {
        var cells: [JSON] = []
        for g in groups {
            for c in columns {
                let os = outcomes.filter { $0.group == g && $0.backend == c }
                if os.isEmpty { continue }
                cells.append(.object([("group", .string(g)), ("backend", .string(c)),
                                      ("passed", .int(os.filter { $0.status == .passed }.count)),
                                      ("failed", .int(os.filter(\.failed).count)), ("skipped", .int(os.filter(\.skipped).count))]))
            }
        }
        let failures: [JSON] = self.failures.map { f in
            var why = ""
            if case .failed(let w) = f.status { why = w }
            return .object([("group", .string(f.group)), ("tcId", .int(f.tcId)), ("backend", .string(f.backend)),
                            ("comment", .string(f.comment)), ("message", .string(why))])
        }
        return .object([
            ("contractVersion", .string(ContractVersion.current)),
            ("backends", .array(columns.filter { $0 != "library" }.map { .string($0) })),
            ("unavailable", .array(unavailable.map { .object([("name", .string($0.name)), ("reason", .string($0.reason))]) })),
            ("results", .array(cells)),
            ("failures", .array(failures)),
            ("passed", .int(passedCount)), ("failed", .int(self.failures.count)), ("skipped", .int(skippedCount)),
        ])
    }
}

/// Runs the vector files of a directory against backends: op vectors of backend ops and model
/// vectors on each backend, library checks once (column `library`).
public struct VectorRunner {
    /// The vectors directory (holding `ops/` and `models/`).
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The vector files under `directory` (`ops/*.json`, `models/*.json`), sorted by path.
    public func paths() throws(VectorError) -> [String] {
        var out: [String] = []
        for sub in VectorCorpus.subdirectories {
            let dir = directory + "/" + sub
            guard FileManager.default.fileExists(atPath: dir) else { continue }
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch { throw VectorError("cannot list \(dir): \(error)") }
            out += names.filter { $0.hasSuffix(".json") }.map { sub + "/" + $0 }
        }
        guard !out.isEmpty else { throw VectorError("no vector files under \(directory)/{\(VectorCorpus.subdirectories.joined(separator: ","))}") }
        return out.sorted()
    }

    /// The largest vector file read (the largest in the corpus is under 1 MB).
    public static let maxFileBytes = 64 << 20

    /// Loads one file by its path under `directory`.
    /// - Throws: `VectorError` naming the file: it cannot be read, is not a regular file (a FIFO
    ///   is not waited on), is larger than `maxFileBytes`, is not UTF-8 or not a vector file.
    public func load(_ path: String) throws(VectorError) -> VectorFile {
        let bytes: [UInt8]
        do { bytes = try readRegularFile(atPath: directory + "/" + path, maxBytes: Self.maxFileBytes) } catch {
            throw VectorError("cannot read \(error.description)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw VectorError("\(directory)/\(path): not valid UTF-8") }
        do { return try VectorFile(text: text) } catch { throw VectorError("\(path): \(error)") }
    }

    /// Runs every vector (or those whose group passes `include`) on `backends`; library checks
    /// run once when `library` is true.
    public func run(backends: [any Backend], library: Bool = true, include: (String) -> Bool = { _ in true },
                    progress: ((String) -> Void)? = nil) throws(VectorError) -> VectorReport {
        var report = VectorReport()
        report.columns = (library ? ["library"] : []) + backends.map(\.name)
        for path in try paths() {
            let group = String(path.dropLast(5))
            guard include(group) else { continue }
            let file = try load(path)
            progress?(group)
            if file.format == VectorFile.modelFormat {
                runModels(file, group: group, backends: backends, into: &report)
            } else {
                runOps(file, group: group, backends: backends, library: library, into: &report)
            }
        }
        return report
    }

    private func versionProblem(_ file: VectorFile) -> String? {
        file.contractVersion == ContractVersion.current ? nil
            : "the vectors are for contract \(file.contractVersion); this build implements \(ContractVersion.current)"
    }

    private func runOps(_ file: VectorFile, group: String, backends: [any Backend], library: Bool, into report: inout VectorReport) {
        let version = versionProblem(file)
        for g in file.groups {
            let op = OpTypes.backendOp(g)
            let targets: [(String, (any Backend)?)] = op == nil ? (library ? [("library", nil)] : []) : backends.map { ($0.name, $0) }
            for (name, backend) in targets {
                for t in g.tests {
                    let status: VectorOutcome.Status
                    if let version {
                        status = .failed(version)
                    } else if !OpTypes.knownTypes.contains(g.type) {
                        status = .failed("unknown test type '\(g.type)'")
                    } else if let backend, let op, !backend.supports(op) {
                        status = .skipped("\(name) does not support \(op)")
                    } else {
                        do {
                            let outputs = try OpTypes.compute(g, inputs: t.inputs, backend: backend ?? ReferenceBackend())
                            status = Self.compare(expected: t.expected, actual: outputs.map { ($0.0, $0.1.json) }, unchecked: &report.uncheckedFields)
                        } catch {
                            status = .failed("\(error)")
                        }
                    }
                    report.outcomes.append(VectorOutcome(group: group, backend: name, tcId: t.tcId, comment: t.comment, status: status))
                }
            }
        }
    }

    private func runModels(_ file: VectorFile, group: String, backends: [any Backend], into report: inout VectorReport) {
        let version = versionProblem(file)
        for g in file.groups {
            // Load the model once per group; a problem fails (or, for an absent file, skips) every test.
            var model: LlamaModel?
            var problem: VectorOutcome.Status?
            if let version { problem = .failed(version) } else {
                do {
                    switch g.type {
                    case "TinyModelTest":
                        let spec = try ModelVectors.spec(g["spec"])
                        let bytes = TinyModel.gguf(spec)
                        let sha = SHA256Hasher.hash(bytes).hex
                        if let want = g["ggufSha256"]?.string, want != sha {
                            problem = .failed("TinyModel.gguf(spec) has SHA-256 \(sha), expected \(want) (the generator changed)")
                        } else {
                            do { model = try LlamaModel(file: GGUFFile(bytes: bytes, name: "tiny-\(spec.seed).gguf")) } catch {
                                throw VectorError("\(error)")
                            }
                        }
                    case "ModelFileTest":
                        guard g["sha256"]?.string == ModelStore.realModelSHA256 else {
                            throw VectorError("this runner knows only the real model's file (sha256 \(ModelStore.realModelSHA256))")
                        }
                        model = try ModelVectors.realModel()
                        if model == nil { problem = .skipped("the real model is not at \(ModelStore.realModelPath) (run scripts/setup.sh)") }
                    default:
                        throw VectorError("unknown test type '\(g.type)'")
                    }
                    if let model, let want = g["modelDigest"]?.string {
                        let digest = model.digest().hex
                        if digest != want { problem = .failed("model digest \(digest), expected \(want)") }
                    }
                } catch {
                    problem = .failed("\(error)")
                }
            }
            for backend in backends {
                for t in g.tests {
                    var status = problem ?? .passed
                    if problem == nil, let model {
                        do {
                            let actual = try ModelVectors.compute(model: model, inputs: t.inputs, backend: backend)
                            status = Self.compare(expected: t.expected, actual: actual, unchecked: &report.uncheckedFields)
                        } catch {
                            status = .failed("\(error)")
                        }
                    }
                    report.outcomes.append(VectorOutcome(group: group, backend: backend.name, tcId: t.tcId, comment: t.comment, status: status))
                }
            }
        }
    }

    /// Compares every expected field with the computed one: tensor fields byte for byte (an
    /// expected NaN matches any NaN), other values for equality. Expected fields the runner did
    /// not compute are recorded in `unchecked`.
    static func compare(expected: JSON, actual: [(String, JSON)], unchecked: inout Set<String>) -> VectorOutcome.Status {
        for (key, want) in expected.object ?? [] {
            guard let got = actual.first(where: { $0.0 == key })?.1 else { unchecked.insert(key); continue }
            if want["hex"] != nil {
                do {
                    let w = try TensorField(want, name: key), g = try TensorField(got, name: key)
                    if let why = tensorMismatch(w, g) { return .failed("\(key)\(why)") }
                } catch {
                    return .failed("\(error)")
                }
            } else if want != got {
                return .failed("\(key): expected \(brief(want)), got \(brief(got))")
            }
        }
        return .passed
    }

    private static func brief(_ j: JSON) -> String {
        let s = j.serialized().replacingOccurrences(of: "\n", with: "")
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }

    /// Where two tensors differ (nil when equal).
    static func tensorMismatch(_ want: TensorField, _ got: TensorField) -> String? {
        guard want.type == got.type, want.shape == got.shape else {
            return ": expected \(want.type.rawValue) \(want.shape), got \(got.type.rawValue) \(got.shape)"
        }
        switch want.type {
        case .f32:
            let w = want.floats, g = got.floats
            for i in w.indices where !(w[i].isNaN ? g[i].isNaN : w[i].bitPattern == g[i].bitPattern) {
                return "[\(i)]: expected \(hex32(w[i].bitPattern)) (\(Readable.float(w[i]))), got \(hex32(g[i].bitPattern)) (\(Readable.float(g[i])))"
            }
        case .f64:
            let w = want.doubles, g = got.doubles
            for i in w.indices where !(w[i].isNaN ? g[i].isNaN : w[i].bitPattern == g[i].bitPattern) {
                return "[\(i)]: expected \(Readable.double(w[i])) (0x\(String(w[i].bitPattern, radix: 16))), got \(Readable.double(g[i])) (0x\(String(g[i].bitPattern, radix: 16)))"
            }
        default:
            let width = want.type.byteWidth
            if let i = zip(want.bytes, got.bytes).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                let e = i / width
                return "[\(e)]: expected bytes \(Hex.encode(want.bytes[e * width ..< (e + 1) * width])), got \(Hex.encode(got.bytes[e * width ..< (e + 1) * width]))"
            }
        }
        return nil
    }

    private static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}
