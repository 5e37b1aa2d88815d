import LockstepCore

/// Deterministic random operands for backend tests: weight blocks of every format with a chosen
/// spread of fp16 scale exponents, and activations with a chosen spread of magnitudes.
public struct RandomOperands {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// 53 random bits (a 64-bit LCG's high bits).
    public mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }

    /// Uniform in [−scale, scale].
    public mutating func float(_ scale: Float) -> Float { (Float(next() % 2_000_001) / 1_000_000 - 1) * scale }

    /// `rows × columns/32` random blocks of `format`; scale exponents spread over `spread + 1` octaves.
    public mutating func weightBytes(_ format: WeightFormat, rows: Int, columns: Int, spread: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0 ..< rows * columns / 32 {
            let exponent = -Int(next() % UInt64(spread + 1)) - 3
            let scale = Float16(Float(sign: .plus, exponent: exponent, significand: 1 + float(0.5).magnitude))
            bytes += withUnsafeBytes(of: scale.bitPattern.littleEndian, Array.init)
            if format == .q4_1 { bytes += withUnsafeBytes(of: Float16(float(0.1)).bitPattern.littleEndian, Array.init) }
            for _ in 0 ..< (format == .q8_0 ? 32 : 16) { bytes.append(UInt8(truncatingIfNeeded: next())) }
        }
        return bytes
    }

    /// `rows × columns` activations whose magnitudes spread over about `spread` octaves; the
    /// first row is all zeros when `rows > 1`.
    public mutating func activations(rows: Int, columns: Int, spread: Int) -> [Float] {
        var x = [Float](repeating: 0, count: rows * columns)
        for i in x.indices where rows == 1 || i >= columns {
            let octave = Int(next() % UInt64(spread + 1)) - spread / 2
            x[i] = float(Float(sign: .plus, exponent: octave, significand: 1))
        }
        return x
    }
}

/// Runs `body` with a weight matrix over `bytes`.
public func withWeightMatrix<R>(_ bytes: [UInt8], format: WeightFormat, rows: Int, columns: Int,
                                _ body: (WeightMatrix) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { raw in
        try body(WeightMatrix(format: format, rows: rows, columns: columns, bytes: raw, owner: nil))
    }
}

/// The product shapes every backend test covers: (rows, columns, tokens, weight spread,
/// activation spread) — a single token, batches, K not a power of two, extreme spreads.
public let productShapes: [(rows: Int, columns: Int, tokens: Int, weightSpread: Int, activationSpread: Int)] = [
    (37, 64, 1, 2, 2), (70, 96, 9, 8, 6), (5, 1536, 3, 20, 30), (9, 64, 4, 60, 2), (9, 64, 4, 2, 80), (3, 32, 17, 4, 4),
]

/// Compares `backend`'s product with the reference backend's, bit for bit, over every format and
/// `productShapes`; returns a description of each mismatch (empty when all agree).
public func productMismatches(_ backend: any Backend, seed: UInt64 = 42) -> [String] {
    var g = RandomOperands(seed: seed)
    var failures: [String] = []
    for format in WeightFormat.allCases {
        for s in productShapes {
            let bytes = g.weightBytes(format, rows: s.rows, columns: s.columns, spread: s.weightSpread)
            let x = g.activations(rows: s.tokens, columns: s.columns, spread: s.activationSpread)
            let q = x.withUnsafeBufferPointer { QuantizedActivations($0, rows: s.tokens, columns: s.columns) }
            var expected = [Float](repeating: 0, count: s.tokens * s.rows)
            var actual = [Float](repeating: .nan, count: s.tokens * s.rows)
            withWeightMatrix(bytes, format: format, rows: s.rows, columns: s.columns) { w in
                expected.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(w, q, into: $0) }
                actual.withUnsafeMutableBufferPointer { backend.matmul(w, q, into: $0) }
            }
            let differing = zip(expected, actual).filter { $0.bitPattern != $1.bitPattern }.count
            if differing > 0 {
                failures.append("\(backend.name) \(format.rawValue) \(s.rows)×\(s.columns), \(s.tokens) tokens, spreads \(s.weightSpread)/\(s.activationSpread): \(differing) outputs differ")
            }
        }
    }
    return failures
}

/// Compares `backend`'s products with views of one matrix's rows (`WeightMatrix.rows(_:)`) with
/// the reference backend's, bit for bit. The matrix has an owner, so backends that keep per-matrix
/// state (device copies, row hints) keep it, and the views are taken in an order in which views
/// that start at the same address but differ in length follow each other. Returns a description
/// of each mismatch (empty when all agree).
public func rowViewMismatches(_ backend: any Backend, seed: UInt64 = 43) -> [String] {
    final class Storage {
        let bytes: UnsafeMutableRawBufferPointer
        init(_ b: [UInt8]) {
            bytes = .allocate(byteCount: b.count, alignment: 64)
            b.withUnsafeBytes { bytes.copyMemory(from: $0) }
        }
        deinit { bytes.deallocate() }
    }
    var g = RandomOperands(seed: seed)
    var failures: [String] = []
    let rows = 40, columns = 64, tokens = 5
    for format in WeightFormat.allCases {
        let storage = Storage(g.weightBytes(format, rows: rows, columns: columns, spread: 6))
        let whole = WeightMatrix(format: format, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(storage.bytes), owner: storage)
        let x = g.activations(rows: tokens, columns: columns, spread: 4)
        let q = x.withUnsafeBufferPointer { QuantizedActivations($0, rows: tokens, columns: columns) }
        for range in [0 ..< rows, 0 ..< 1, 3 ..< 4, 3 ..< 10, 0 ..< 7, 39 ..< 40, 20 ..< 40, 0 ..< rows] {
            let w = whole.rows(range)
            var expected = [Float](repeating: 0, count: tokens * range.count)
            var actual = [Float](repeating: .nan, count: tokens * range.count)
            expected.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(w, q, into: $0) }
            actual.withUnsafeMutableBufferPointer { backend.matmul(w, q, into: $0) }
            let differing = zip(expected, actual).filter { $0.bitPattern != $1.bitPattern }.count
            if differing > 0 { failures.append("\(backend.name) \(format.rawValue) rows \(range) of \(rows): \(differing) outputs differ") }
        }
    }
    return failures
}
