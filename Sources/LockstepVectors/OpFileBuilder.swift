import LockstepCore

/// Builds an op vector file: each test's expected outputs are computed by the reference
/// backend / the library (`OpTypes.compute`), so the vectors freeze the reference's bits.
struct OpFileBuilder {
    private var file: VectorFileBuilder
    private let reference = ReferenceBackend()

    init(algorithm: String, spec: String, header: [String], notes: [(String, String)]) {
        file = VectorFileBuilder(algorithm: algorithm, spec: spec, header: header, notes: notes + commonNotes)
    }

    /// Starts a group of `type` with `params`, unless the current group already is exactly that.
    mutating func group(_ type: String, _ params: [(String, JSON)] = []) {
        if let last = file.groups.last, last.type == type, last.params.count == params.count,
           zip(last.params, params).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) { return }
        file.group(type, params)
    }

    /// Adds a test with `inputs`; the expected outputs come from the reference.
    mutating func test(_ comment: String, _ flags: [String], _ inputs: [(String, JSON)]) {
        guard let group = file.groups.last else { preconditionFailure("OpFileBuilder: test before group") }
        do {
            let outputs = try OpTypes.compute(group, inputs: .object(inputs), backend: reference)
            file.test(comment, flags: flags, inputs: inputs, expected: outputs.map { ($0.0, $0.1.json) })
        } catch {
            preconditionFailure("OpFileBuilder: \(file.algorithm): \(comment): \(error)")
        }
    }

    func build() -> VectorFile { file.build() }
}

/// Notes shared by every op file (a file lists only the flags its tests use).
let commonNotes: [(String, String)] = [
    ("SpecExample", "A worked example of Papers/SPEC.md Appendix B (values checked there with exact rational arithmetic)."),
    ("Random", "Inputs drawn from the contract's counter-based generator (SPEC §4.2) with a fixed seed."),
    ("NonFinite", "Some inputs are NaN or ±infinity."),
    ("Subnormal", "Some inputs or outputs are binary32/binary64 subnormals."),
    ("SignedZero", "The sign of a zero input or output matters."),
    ("RoundingTie", "An exact intermediate value lies exactly halfway between two representable values; ties go to even."),
]

/// JSON field builders used by the generators.
enum J {
    static func f32(_ v: [Float], shape: [Int]? = nil) -> JSON { TensorField.f32(v, shape: shape).json }
    static func f32(_ v: Float) -> JSON { TensorField.f32([v], shape: []).json }
    static func f64(_ v: [Double]) -> JSON { TensorField.f64(v).json }
    static func i64(_ v: [Int64]) -> JSON { TensorField.i64(v).json }
    static func i32(_ v: [Int32]) -> JSON { TensorField.i32(v, shape: [v.count]).json }
    static func u64(_ v: [UInt64]) -> JSON { TensorField.u64(v).json }
    static func u64(_ v: UInt64) -> JSON { TensorField.u64([v], shape: []).json }
    static func ints(_ v: [Int]) -> JSON { .array(v.map { .int($0) }) }
    static func int(_ v: Int) -> JSON { .int(v) }
    static func string(_ s: String) -> JSON { .string(s) }
    static func weights(_ format: WeightFormat, rows: Int, columns: Int, _ bytes: [UInt8]) -> JSON {
        TensorField.weights(format, rows: rows, columns: columns, bytes: bytes).json
    }
}

/// Binary32 helpers for writing edge cases.
extension Float {
    /// `significand · 2^exponent`, exactly (the caller keeps it representable).
    static func exact(_ significand: Int, _ exponent: Int) -> Float {
        Float(sign: significand < 0 ? .minus : .plus, exponent: exponent, significand: Float(significand.magnitude))
    }
    /// The binary32 with bit pattern `bits`.
    static func bits(_ bits: UInt32) -> Float { Float(bitPattern: bits) }
}

extension Double {
    static func bits(_ bits: UInt64) -> Double { Double(bitPattern: bits) }
}

/// `head` followed by zeros up to `count` values.
func padded(_ head: [Float], to count: Int = 32) -> [Float] {
    head + [Float](repeating: 0, count: Swift.max(0, count - head.count))
}
