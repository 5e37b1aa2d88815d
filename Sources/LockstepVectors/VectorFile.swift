/// One test case: inputs, the expected outputs (bytes), and the verdict (`"valid"`: the
/// implementation must produce exactly `expected`).
public struct VectorTest: Sendable {
    /// Identifier, unique within the file (1, 2, 3, ...).
    public var tcId: Int
    /// What the case exercises.
    public var comment: String
    /// Names of properties of the case; each is explained in the file's `notes`.
    public var flags: [String]
    /// The inputs, a JSON object (tensor fields, integers, integer arrays).
    public var inputs: JSON
    /// The expected outputs, a JSON object.
    public var expected: JSON
    /// Always `"valid"` in this version of the format.
    public var result: String

    func json() -> JSON {
        .object([("tcId", .int(tcId)), ("comment", .string(comment)), ("flags", .array(flags.map { .string($0) })),
                 ("inputs", inputs), ("expected", expected), ("result", .string(result))])
    }

    init(json: JSON) throws(VectorError) {
        guard let id = json["tcId"]?.int else { throw VectorError("test without an integer tcId") }
        tcId = id
        comment = json["comment"]?.string ?? ""
        flags = json["flags"]?.array?.compactMap(\.string) ?? []
        guard let i = json["inputs"], i.object != nil else { throw VectorError("test \(id): missing inputs") }
        guard let e = json["expected"], e.object != nil else { throw VectorError("test \(id): missing expected") }
        inputs = i
        expected = e
        result = json["result"]?.string ?? ""
        guard result == "valid" else { throw VectorError("test \(id): unknown result '\(result)'") }
    }

    init(tcId: Int, comment: String, flags: [String], inputs: JSON, expected: JSON) {
        self.tcId = tcId; self.comment = comment; self.flags = flags
        self.inputs = inputs; self.expected = expected; result = "valid"
    }
}

/// Tests sharing a type and parameters.
public struct VectorGroup: Sendable {
    /// The kind of test (`"QuantizeTest"`, `"MatmulTest"`, ...), which says how to run it.
    public var type: String
    /// The group's parameters, in file order (everything but `type` and `tests`).
    public var params: [(String, JSON)]
    public var tests: [VectorTest]

    /// A parameter by name.
    public subscript(key: String) -> JSON? { params.first(where: { $0.0 == key })?.1 }

    func json() -> JSON {
        .object([("type", .string(type))] + params + [("tests", .array(tests.map { $0.json() }))])
    }

    init(json: JSON) throws(VectorError) {
        guard let pairs = json.object, let type = json["type"]?.string else { throw VectorError("test group without a type") }
        self.type = type
        params = pairs.filter { $0.0 != "type" && $0.0 != "tests" }
        guard let tests = json["tests"]?.array else { throw VectorError("group \(type): missing tests") }
        var parsed: [VectorTest] = []
        for t in tests { parsed.append(try VectorTest(json: t)) }
        self.tests = parsed
    }

    init(type: String, params: [(String, JSON)], tests: [VectorTest]) {
        self.type = type; self.params = params; self.tests = tests
    }
}

/// A vector file: a header, flag notes and groups of tests (the layout of Project Wycheproof's
/// files, with Lockstep's fields).
public struct VectorFile: Sendable {
    /// `"lockstep.op-vectors.v1"` or `"lockstep.model-vectors.v1"`: the layout of the file.
    public var format: String
    /// What the file tests, e.g. `"activation-quantization"`.
    public var algorithm: String
    /// The arithmetic contract version the expected values were computed under.
    public var contractVersion: String
    /// The SPEC.md sections that define the operation.
    public var spec: String
    /// Free-text description lines.
    public var header: [String]
    /// Flag → meaning.
    public var notes: [(String, String)]
    public var groups: [VectorGroup]

    /// Number of tests over all groups.
    public var numberOfTests: Int { groups.reduce(0) { $0 + $1.tests.count } }

    public static let opFormat = "lockstep.op-vectors.v1"
    public static let modelFormat = "lockstep.model-vectors.v1"

    public func json() -> JSON {
        .object([
            ("format", .string(format)),
            ("algorithm", .string(algorithm)),
            ("contractVersion", .string(contractVersion)),
            ("spec", .string(spec)),
            ("numberOfTests", .int(numberOfTests)),
            ("header", .array(header.map { .string($0) })),
            ("notes", .object(notes.map { ($0.0, .string($0.1)) })),
            ("testGroups", .array(groups.map { $0.json() })),
        ])
    }

    /// The file's canonical text.
    public func serialized() -> String { json().serialized() }

    /// Parses a vector file.
    public init(text: String) throws(VectorError) {
        let j = try JSON.parse(text)
        guard let format = j["format"]?.string, format == Self.opFormat || format == Self.modelFormat else {
            throw VectorError("unknown or missing format (expected \(Self.opFormat) or \(Self.modelFormat))")
        }
        guard let algorithm = j["algorithm"]?.string, let version = j["contractVersion"]?.string else {
            throw VectorError("missing algorithm or contractVersion")
        }
        self.format = format
        self.algorithm = algorithm
        contractVersion = version
        spec = j["spec"]?.string ?? ""
        header = j["header"]?.array?.compactMap(\.string) ?? []
        notes = (j["notes"]?.object ?? []).map { ($0.0, $0.1.string ?? "") }
        guard let groups = j["testGroups"]?.array else { throw VectorError("missing testGroups") }
        var parsed: [VectorGroup] = []
        for g in groups { parsed.append(try VectorGroup(json: g)) }
        self.groups = parsed
        if let n = j["numberOfTests"]?.int, n != numberOfTests {
            throw VectorError("numberOfTests says \(n) but the file holds \(numberOfTests) tests")
        }
        var seen = Set<Int>()
        for g in parsed { for t in g.tests where !seen.insert(t.tcId).inserted { throw VectorError("duplicate tcId \(t.tcId)") } }
    }

    init(format: String, algorithm: String, spec: String, header: [String], notes: [(String, String)], groups: [VectorGroup]) {
        self.format = format; self.algorithm = algorithm; contractVersion = VectorCorpus.contractVersion
        self.spec = spec; self.header = header; self.notes = notes; self.groups = groups
    }
}

/// Builds one vector file: numbers the tests, and checks that every flag used has a note.
struct VectorFileBuilder {
    let format: String
    let algorithm: String
    let spec: String
    let header: [String]
    let notes: [(String, String)]
    private(set) var groups: [VectorGroup] = []
    private var nextID = 1

    init(format: String = VectorFile.opFormat, algorithm: String, spec: String, header: [String], notes: [(String, String)]) {
        self.format = format; self.algorithm = algorithm; self.spec = spec; self.header = header; self.notes = notes
    }

    /// Starts a group; tests added next go into it.
    mutating func group(_ type: String, _ params: [(String, JSON)] = []) {
        groups.append(VectorGroup(type: type, params: params, tests: []))
    }

    /// Adds a test to the current group.
    mutating func test(_ comment: String, flags: [String], inputs: [(String, JSON)], expected: [(String, JSON)]) {
        precondition(!groups.isEmpty, "VectorFileBuilder: test before group")
        for f in flags { precondition(notes.contains(where: { $0.0 == f }), "VectorFileBuilder: flag \(f) has no note in \(algorithm)") }
        groups[groups.count - 1].tests.append(VectorTest(tcId: nextID, comment: comment, flags: flags,
                                                         inputs: .object(inputs), expected: .object(expected)))
        nextID += 1
    }

    func build() -> VectorFile {
        let used = Set(groups.flatMap { $0.tests.flatMap(\.flags) })
        return VectorFile(format: format, algorithm: algorithm, spec: spec, header: header,
                          notes: notes.filter { used.contains($0.0) }, groups: groups.filter { !$0.tests.isEmpty })
    }
}
