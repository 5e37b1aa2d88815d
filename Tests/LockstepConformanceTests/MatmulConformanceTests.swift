import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// How the fp16 block scales (and Q4_1 offsets) of generated weights are drawn.
enum ScaleKind: String, CaseIterable {
    case typical      // like a real model: 2^-10 … 2^-3, a few negative offsets
    case subnormal    // fp16 subnormal scales
    case negative     // random signs
    case zeroBlocks   // a fifth of the blocks have zero scale (and offset)
    case wide         // the whole fp16 exponent range in one row (forces the exact fallback)
    case extreme      // largest fp16 scales mixed with tiny ones

    func half(_ rng: inout SplitMix64, offset: Bool) -> UInt16 {
        let mantissa = UInt16(truncatingIfNeeded: rng.next()) & 0x3FF
        switch self {
        case .typical:
            let e = UInt16(rng.int(5...12))
            return (offset || rng.chance(0.05) ? 0x8000 : 0) | e << 10 | mantissa
        case .subnormal:
            return (rng.chance(0.3) ? 0x8000 : 0) | mantissa
        case .negative:
            return (rng.chance(0.5) ? 0x8000 : 0) | UInt16(rng.int(6...14)) << 10 | mantissa
        case .zeroBlocks:
            if rng.chance(0.2) { return rng.chance(0.5) ? 0 : 0x8000 }
            return UInt16(rng.int(7...10)) << 10 | mantissa
        case .wide:
            return (rng.chance(0.3) ? 0x8000 : 0) | UInt16(rng.int(0...30)) << 10 | mantissa
        case .extreme:
            let e: UInt16 = rng.chance(0.5) ? 30 : UInt16(rng.int(0...2))
            return (rng.chance(0.5) ? 0x8000 : 0) | e << 10 | (rng.chance(0.2) ? 0x3FF : mantissa)
        }
    }
}

/// Weight matrices with random block contents.
func makeWeights(_ format: WeightFormat, rows: Int, columns: Int, scales: ScaleKind, rng: inout SplitMix64) -> WeightMatrix {
    let nb = columns / 32
    var bytes = [UInt8](repeating: 0, count: rows * nb * format.blockBytes)
    for blk in 0..<(rows * nb) {
        let o = blk * format.blockBytes
        let zero = scales == .zeroBlocks && rng.chance(0.2)
        let d: UInt16 = zero ? 0 : scales.half(&rng, offset: false)
        bytes[o] = UInt8(d & 0xFF); bytes[o + 1] = UInt8(d >> 8)
        var q = o + 2
        if format == .q4_1 {
            let m: UInt16 = zero ? 0 : scales.half(&rng, offset: true)
            bytes[o + 2] = UInt8(m & 0xFF); bytes[o + 3] = UInt8(m >> 8)
            q = o + 4
        }
        let n = format == .q8_0 ? 32 : 16
        for j in 0..<n { bytes[q + j] = UInt8(truncatingIfNeeded: rng.next()) }
        if format == .q8_0 && rng.chance(0.1) { bytes[q] = 0x80 }   // −128 appears in real files
    }
    let owner = OwnedRaw(bytes)
    return WeightMatrix(format: format, rows: rows, columns: columns, bytes: UnsafeRawBufferPointer(owner.buffer).prefix(bytes.count).rebased,
                        owner: owner)
}

extension Slice where Base == UnsafeRawBufferPointer {
    var rebased: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self) }
}

/// Quantised activations: from binary32 data of a kind, or crafted integers.
enum ActivationKind: CaseIterable, CustomStringConvertible {
    case floats(FloatKind)
    case crafted            // random int16 in the full range, exponents −60 … 20
    case extremeExponents   // exponents across the whole binary32 range: subnormal and infinite results
    case inconsistentSums   // Q4_1 uses the given sums even when they disagree with the values

    static var allCases: [ActivationKind] {
        [.floats(.normal), .floats(.wideBlocks), .floats(.huge), .floats(.tiny), .floats(.sparse), .floats(.zeros),
         .floats(.ties), .crafted, .extremeExponents, .inconsistentSums]
    }

    var description: String {
        switch self {
        case .floats(let k): return k.rawValue
        case .crafted: return "crafted"
        case .extremeExponents: return "extremeExponents"
        case .inconsistentSums: return "inconsistentSums"
        }
    }

    func make(rows: Int, columns: Int, rng: inout SplitMix64) -> QuantizedActivations {
        switch self {
        case .floats(let kind):
            let x = kind.make(rows * columns, rng: &rng)
            return x.withUnsafeBufferPointer { QuantizedActivations($0, rows: rows, columns: columns) }
        case .crafted, .extremeExponents, .inconsistentSums:
            var q = QuantizedActivations(rows: rows, columns: columns)
            for b in 0..<(rows * q.blocksPerRow) {
                var sum: Int32 = 0
                for j in 0..<32 {
                    let v = Int16(rng.int(-32767...32767)) >> Int16(rng.int(0...14))
                    q.values[b * 32 + j] = v
                    sum += Int32(v)
                }
                q.sums[b] = self == .inconsistentSums && rng.chance(0.5) ? Int32(rng.int(-3_000_000...3_000_000)) : sum
                q.exponents[b] = self == .extremeExponents ? Int32(rng.int(-170...110)) : Int32(rng.int(-60...20))
            }
            return q
        }
    }

    static func == (a: ActivationKind, b: ActivationKind) -> Bool { a.description == b.description }
}

/// Exact products for every weight format × shape × scale kind × activation kind × backend.
final class MatmulConformanceTests: XCTestCase {
    /// (output rows N, inputs K, activation rows T)
    static let shapes: [(n: Int, k: Int, t: Int)] = [
        (1, 32, 1), (5, 32, 3), (16, 64, 1), (17, 96, 2), (33, 576, 1), (31, 576, 4), (48, 576, 17), (192, 576, 1),
        (64, 1536, 3), (200, 320, 5), (576, 1536, 1), (9, 128, 8),
        // batches of 16 and more take the panel kernels on AVX-512: tiles of 8 tokens against
        // groups of three panels (48 rows) — every tail of a tile (1 … 7 tokens) — and one or two
        // panels for a last group of 16 or 32 rows; partial row groups of each size
        (16, 64, 16), (35, 320, 18), (70, 1536, 19), (29, 576, 33), (576, 192, 41),
        (40, 320, 20), (45, 576, 22), (50, 320, 23), (33, 64, 30), (16, 96, 21),
        (80, 64, 24), (32, 96, 27), (113, 320, 17),
    ]

    private func check(_ w: WeightMatrix, _ x: QuantizedActivations, _ name: String, _ counter: ComparisonCounter) {
        let reference = ReferenceBackend()
        var want = [Float](repeating: .nan, count: x.rows * w.rows)
        want.withUnsafeMutableBufferPointer { reference.matmul(w, x, into: $0) }
        for (label, backend) in BackendsUnderTest.all {
            var got = [Float](repeating: .nan, count: x.rows * w.rows)
            got.withUnsafeMutableBufferPointer { backend.matmul(w, x, into: $0) }
            assertSameBits(got, want, "\(name) \(label)", counter: counter)
        }
    }

    /// Every shape with typical data and one rotating edge case.
    func testShapes() {
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x3A_0001)
        let acts = ActivationKind.allCases
        for format in WeightFormat.allCases {
            for (i, s) in Self.shapes.enumerated() {
                let w = makeWeights(format, rows: s.n, columns: s.k, scales: .typical, rng: &rng)
                let x = ActivationKind.floats(.normal).make(rows: s.t, columns: s.k, rng: &rng)
                check(w, x, "matmul \(format.rawValue) \(s.n)×\(s.k)×\(s.t) typical/normal", counter)
                let sk = ScaleKind.allCases[i % ScaleKind.allCases.count]
                let ak = acts[(i * 7 + format.blockBytes) % acts.count]
                let w2 = makeWeights(format, rows: s.n, columns: s.k, scales: sk, rng: &rng)
                let x2 = ak.make(rows: s.t, columns: s.k, rng: &rng)
                check(w2, x2, "matmul \(format.rawValue) \(s.n)×\(s.k)×\(s.t) \(sk)/\(ak)", counter)
            }
        }
        XCTAssertEqual(counter.cases, WeightFormat.allCases.count * Self.shapes.count * 2 * BackendsUnderTest.all.count)
    }

    /// Several matrices against the same activations in one call give each matrix's own product,
    /// byte for byte: one format, rows that do and do not fill a row group (and empty matrices, one
    /// without any bytes),
    /// decode and panel batches; matrices of different formats take separate products.
    /// Views of one matrix's rows (`WeightMatrix.rows(_:)`, the output head's vocabulary
    /// slices) on every configuration: a view's row hints, taken from the whole matrix's, give
    /// the reference's bits.
    func testRowViewsOfOneMatrix() {
        for (label, backend) in BackendsUnderTest.all {
            XCTAssertEqual(rowViewMismatches(backend), [], label)
        }
    }

    func testManyMatricesInOneCallGiveEachProduct() {
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x3A_0005)
        for format in WeightFormat.allCases {
            for (k, t) in [(576, 1), (320, 3), (576, 17), (96, 40)] {
                let rowCounts = [576, 192, 0, 45, 16]
                var ws = rowCounts.map { makeWeights(format, rows: $0, columns: k, scales: .typical, rng: &rng) }
                ws.append(makeWeights(format, rows: 37, columns: k, scales: .wide, rng: &rng))   // rows on the exact path
                ws.append(WeightMatrix(format: format, rows: 0, columns: k, bytes: UnsafeRawBufferPointer(start: nil, count: 0), owner: nil))
                let x = ActivationKind.floats(.normal).make(rows: t, columns: k, rng: &rng)
                let reference = ReferenceBackend()
                let want = ws.map { w in
                    var y = [Float](repeating: .nan, count: x.rows * w.rows)
                    y.withUnsafeMutableBufferPointer { reference.matmul(w, x, into: $0) }
                    return y
                }
                for (label, backend) in BackendsUnderTest.all + [("reference (one by one)", ReferenceBackend())] as [(String, any Backend)] {
                    let outputs = ws.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: max(x.rows * $0.rows, 1)) }
                    defer { outputs.forEach { $0.deallocate() } }
                    outputs.forEach { $0.initialize(repeating: .nan) }
                    backend.matmul(ws, x, into: outputs)
                    for (i, w) in ws.enumerated() {
                        assertSameBits(Array(outputs[i].prefix(x.rows * w.rows)), want[i],
                                       "matmul many \(format.rawValue) \(w.rows)×\(k)×\(t) #\(i) \(label)", counter: counter)
                    }
                }
            }
        }
        // Two formats in one call: each matrix still gets its own product.
        let q8 = makeWeights(.q8_0, rows: 40, columns: 128, scales: .typical, rng: &rng)
        let q41 = makeWeights(.q4_1, rows: 33, columns: 128, scales: .typical, rng: &rng)
        let x = ActivationKind.floats(.normal).make(rows: 20, columns: 128, rng: &rng)
        for (label, backend) in BackendsUnderTest.all {
            var a = [Float](repeating: .nan, count: 20 * 40), b = [Float](repeating: .nan, count: 20 * 33)
            var wantA = a, wantB = b
            wantA.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(q8, x, into: $0) }
            wantB.withUnsafeMutableBufferPointer { ReferenceBackend().matmul(q41, x, into: $0) }
            a.withUnsafeMutableBufferPointer { pa in b.withUnsafeMutableBufferPointer { pb in backend.matmul([q8, q41], x, into: [pa, pb]) } }
            assertSameBits(a, wantA, "matmul many mixed q8_0 \(label)", counter: counter)
            assertSameBits(b, wantB, "matmul many mixed q4_1 \(label)", counter: counter)
        }
        XCTAssertEqual(counter.cases, WeightFormat.allCases.count * 4 * 7 * (BackendsUnderTest.all.count + 1) + 2 * BackendsUnderTest.all.count)
    }

    /// Every scale kind × activation kind on two shapes (decode and a batch of 17).
    func testEdgeValues() {
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x3A_0002)
        for format in WeightFormat.allCases {
            for sk in ScaleKind.allCases {
                for ak in ActivationKind.allCases {
                    for (n, k, t) in [(37, 160, 1), (21, 96, 17)] {
                        let w = makeWeights(format, rows: n, columns: k, scales: sk, rng: &rng)
                        let x = ak.make(rows: t, columns: k, rng: &rng)
                        check(w, x, "matmul \(format.rawValue) \(n)×\(k)×\(t) \(sk)/\(ak)", counter)
                    }
                }
            }
        }
        XCTAssertEqual(counter.cases,
                       WeightFormat.allCases.count * ScaleKind.allCases.count * ActivationKind.allCases.count * 2 * BackendsUnderTest.all.count)
    }

    /// Both arithmetic paths run on every instruction set: typical data stays on the int64 fast
    /// path, scales across the whole fp16 range force the exact fallback, and both agree with
    /// the reference.
    func testFastPathAndExactFallbackBothRun() {
        var rng = SplitMix64(seed: 0x3A_0004)
        for format in WeightFormat.allCases {
            let typical = makeWeights(format, rows: 64, columns: 576, scales: .typical, rng: &rng)
            let wide = makeWeights(format, rows: 64, columns: 576, scales: .wide, rng: &rng)
            // 3 tokens: the decode and small-batch kernels; 20 tokens: the batched (panel) kernels.
            for tokens in [3, 20] {
                let x = ActivationKind.floats(.normal).make(rows: tokens, columns: 576, rng: &rng)
                checkPaths(typical, x, expectFallback: false)
                checkPaths(wide, x, expectFallback: true)
            }
        }
    }

    private func checkPaths(_ w: WeightMatrix, _ x: QuantizedActivations, expectFallback: Bool) {
        let reference = ReferenceBackend()
        let outputs = x.rows * w.rows
        var want = [Float](repeating: .nan, count: outputs)
        want.withUnsafeMutableBufferPointer { reference.matmul(w, x, into: $0) }
        for (label, backend) in BackendsUnderTest.all {
            CPUPathCounters.reset()
            var got = [Float](repeating: .nan, count: outputs)
            got.withUnsafeMutableBufferPointer { backend.matmul(w, x, into: $0) }
            let c = CPUPathCounters.read()
            let name = "\(w.format.rawValue) \(label) \(x.rows) tokens"
            assertSameBits(got, want, "matmul paths \(name)")
            XCTAssertEqual(Int(c.matmulOutputs), outputs, name)
            if expectFallback {
                XCTAssertGreaterThan(c.matmulExactFallbacks, 0, "\(name): wide scales should need the exact path")
            } else {
                XCTAssertEqual(c.matmulExactFallbacks, 0, "\(name): typical data should stay on the fast path")
            }
        }
    }

    /// Sums that land exactly on binary32 rounding ties, at exponents from the subnormal range to
    /// overflow, and sums that cancel to exactly zero.
    func testRoundingTiesCancellationAndRange() {
        let counter = ComparisonCounter()
        var rng = SplitMix64(seed: 0x3A_0003)
        // Q8_0, two blocks: block 0 gives 16·64·16384 = 2^24 (d = 1.0), block 1 gives `tail`.
        // The sum 2^24 + tail needs 25 bits for odd tails: ±1, ±3 are ties, others round plainly.
        let tails: [Int16] = [1, -1, 3, -3, 2, 5, -5, 0, 7]
        for shift in [-300, -200, -180, -170, -160, -150, -140, -100, -20, 0, 40, 80, 90, 100, 103, 104, 110] {
            var bytes = [UInt8](repeating: 0, count: tails.count * 2 * 34)
            for (r, tail) in tails.enumerated() {
                for b in 0..<2 {
                    let o = (r * 2 + b) * 34
                    bytes[o] = 0x00; bytes[o + 1] = 0x3C          // d = 1.0
                    if b == 0 { for j in 0..<16 { bytes[o + 2 + j] = 64 } } else { bytes[o + 2] = UInt8(bitPattern: Int8(tail)) }
                }
            }
            let owner = OwnedRaw(bytes)
            let w = WeightMatrix(format: .q8_0, rows: tails.count, columns: 64,
                                 bytes: UnsafeRawBufferPointer(owner.buffer).prefix(bytes.count).rebased, owner: owner)
            var x = QuantizedActivations(rows: 3, columns: 64)
            for t in 0..<3 {
                // Row t of x: block 0 = 16 × 16384 (so the row's block 0 gives 2^24·2^shift), block 1
                // one small value: 1 (the tail lands on the last bit: ties), 3 at half the
                // exponent (quarter positions), or a random value.
                for j in 0..<16 { x.values[t * 64 + j] = 16384 }
                x.sums[t * 2] = 16 * 16384
                x.exponents[t * 2] = Int32(shift)
                x.values[t * 64 + 32] = t == 0 ? 1 : t == 1 ? 3 : Int16(rng.int(1...9))
                x.sums[t * 2 + 1] = Int32(x.values[t * 64 + 32])
                x.exponents[t * 2 + 1] = Int32(shift) - (t == 1 ? 1 : 0)
            }
            check(w, x, "matmul ties shift \(shift)", counter)
        }
        // Exact cancellation: row r = +v, row r+1 = −v; sums of opposite terms are exactly +0.
        for format in WeightFormat.allCases {
            let nb = 4
            var bytes = [UInt8](repeating: 0, count: 2 * nb * format.blockBytes)
            for b in 0..<nb {
                let o = b * format.blockBytes
                let d = ScaleKind.typical.half(&rng, offset: false)
                bytes[o] = UInt8(d & 0xFF); bytes[o + 1] = UInt8(d >> 8)
                for j in 2..<format.blockBytes { bytes[o + j] = UInt8(truncatingIfNeeded: rng.next()) }
                if format == .q4_1 { bytes[o + 2] = 0; bytes[o + 3] = 0 }
            }
            // Second half of the blocks: the first two with the scale's sign flipped → row sum cancels
            // when the activation repeats.
            for b in 0..<nb {
                let src = b < 2 ? b : b - 2
                for j in 0..<format.blockBytes { bytes[(nb + b) * format.blockBytes + j] = bytes[src * format.blockBytes + j] }
                if b >= 2 { bytes[(nb + b) * format.blockBytes + 1] ^= 0x80 }
            }
            let owner = OwnedRaw(bytes)
            let w = WeightMatrix(format: format, rows: 2, columns: nb * 32,
                                 bytes: UnsafeRawBufferPointer(owner.buffer).prefix(bytes.count).rebased, owner: owner)
            var x = ActivationKind.floats(.normal).make(rows: 1, columns: nb * 32, rng: &rng)
            for j in 0..<64 { x.values[64 + j] = x.values[j] }
            x.exponents[2] = x.exponents[0]; x.exponents[3] = x.exponents[1]
            x.sums[2] = x.sums[0]; x.sums[3] = x.sums[1]
            check(w, x, "matmul \(format.rawValue) cancellation", counter)
        }
        XCTAssertGreaterThan(counter.cases, 0)
    }
}
