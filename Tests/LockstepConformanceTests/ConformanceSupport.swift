import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

extension SplitMix64 {
    /// Approximately standard normal (sum of uniforms, exact and portable).
    mutating func normal() -> Float {
        var s: Float = 0
        for _ in 0..<4 { s += Float(next() >> 40) / Float(1 << 24) }
        return (s - 2) * 1.7320508
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}

/// Every backend configuration under test: each instruction set this machine runs × 1 and 2 threads.
enum BackendsUnderTest {
    static let all: [(label: String, backend: CPUBackend)] = {
        var out: [(String, CPUBackend)] = []
        for isa in CPUBackend.availableISAs {
            for threads in [1, 2] {
                out.append(("cpu/\(isa)/\(threads)t", CPUBackend(threads: threads, isa: isa)))
                if isa == .avx512 && CPUBackend.hasVNNI {
                    out.append(("cpu/avx512-novnni/\(threads)t", CPUBackend(threads: threads, isa: isa, allowVNNI: false)))
                }
            }
        }
        // An odd thread count, more threads than this machine has cores.
        out.append(("cpu/\(CPUISA.best)/3t", CPUBackend(threads: 3, isa: CPUISA.best)))
        return out
    }()
}

/// Keeps raw bytes alive at a fixed address (a stand-in for a memory-mapped GGUF).
final class OwnedRaw: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    init(_ bytes: [UInt8]) {
        buffer = .allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
    deinit { buffer.deallocate() }
}

/// Counts comparisons so that each test can check it really compared something.
final class ComparisonCounter {
    var cases = 0
    var values = 0
}

extension XCTestCase {
    /// Compares two binary32 arrays bit for bit, except that any NaN matches any NaN: IEEE 754
    /// does not say which NaN an operation with several NaN operands returns (x86 returns the
    /// first operand's, and compilers order commutative operands freely; GPUs return a canonical
    /// NaN), so no backend can promise the reference's NaN payload or sign. Every non-NaN value
    /// must match exactly, including the sign of zero and subnormals.
    @discardableResult
    func assertSameBits(_ got: [Float], _ want: [Float], _ label: @autoclosure () -> String,
                        counter: ComparisonCounter? = nil, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        counter?.cases += 1
        counter?.values += want.count
        guard got.count == want.count else {
            XCTFail("\(label()): \(got.count) values, reference has \(want.count)", file: file, line: line)
            return false
        }
        func same(_ i: Int) -> Bool { got[i].bitPattern == want[i].bitPattern || (got[i].isNaN && want[i].isNaN) }
        for i in 0..<want.count where !same(i) {
            let bad = (0..<want.count).filter { !same($0) }.count
            XCTFail("\(label()): \(bad) of \(want.count) values differ; first at \(i): got \(got[i]) (0x\(String(got[i].bitPattern, radix: 16))), reference \(want[i]) (0x\(String(want[i].bitPattern, radix: 16)))",
                    file: file, line: line)
            return false
        }
        return true
    }

    /// Compares two integer arrays; returns whether they are equal.
    @discardableResult
    func assertSameInts<T: FixedWidthInteger>(_ got: [T], _ want: [T], _ label: @autoclosure () -> String,
                                                counter: ComparisonCounter? = nil, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        counter?.values += want.count
        guard got.count == want.count else {
            XCTFail("\(label()): \(got.count) values, reference has \(want.count)", file: file, line: line)
            return false
        }
        if let i = (0..<want.count).first(where: { got[$0] != want[$0] }) {
            XCTFail("\(label()): first difference at \(i): got \(got[i]), reference \(want[i])", file: file, line: line)
            return false
        }
        return true
    }
}

/// Binary32 test data with the edge values the contract must get right.
enum FloatKind: String, CaseIterable {
    case normal        // N(0, 1)
    case wideBlocks    // each block of 32 scaled by 2^U(−30, 30)
    case huge          // up to ~1e38
    case tiny          // subnormal and near-subnormal
    case ties          // values on rounding ties of the quantiser
    case saturate      // values that round to 2^15 in the quantiser
    case zeros         // all zero, with signed zeros
    case special       // NaN, ±inf mixed with finite values
    case sparse        // mostly zero blocks

    func make(_ count: Int, rng: inout SplitMix64) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        switch self {
        case .normal:
            for i in 0..<count { out[i] = rng.normal() }
        case .wideBlocks:
            var scale: Float = 1
            for i in 0..<count {
                if i % 32 == 0 { scale = Float(sign: .plus, exponent: rng.int(-30...30), significand: 1) }
                out[i] = rng.normal() * scale
            }
        case .huge:
            for i in 0..<count { out[i] = rng.normal() * Float(sign: .plus, exponent: rng.int(100...126), significand: 1) }
        case .tiny:
            for i in 0..<count {
                let bits = UInt32(truncatingIfNeeded: rng.next()) & 0x00FF_FFFF   // subnormals and the first normals
                out[i] = Float(bitPattern: bits | (rng.chance(0.5) ? 0x8000_0000 : 0))
            }
        case .ties:
            // Max 1.0 puts the scale at 2^14: k/2 · 2^-14 are exact ties of roundHalfEven.
            for i in 0..<count {
                if i % 32 == 0 { out[i] = rng.chance(0.5) ? 1 : -1; continue }
                let k = Float(rng.int(-32767...32767)) + 0.5
                out[i] = k * Float(sign: .plus, exponent: -14, significand: 1) * (rng.chance(0.1) ? 0.5 : 1)
            }
        case .saturate:
            for i in 0..<count {
                let v: Float = 1.99999 + Float(rng.int(0...100)) * 1e-7
                out[i] = (rng.chance(0.5) ? v : -v) * (i % 3 == 0 ? 1 : Float(rng.next() >> 40) / Float(1 << 24))
            }
        case .zeros:
            for i in 0..<count { out[i] = rng.chance(0.5) ? 0 : -0.0 }
        case .special:
            let specials: [Float] = [.nan, -.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                     .leastNonzeroMagnitude, Float(bitPattern: 0x7FA0_0001)]
            for i in 0..<count { out[i] = rng.chance(0.2) ? specials[rng.int(0...specials.count - 1)] : rng.normal() }
        case .sparse:
            for i in 0..<count { out[i] = (i / 32) % 3 == 1 ? rng.normal() * 3 : 0 }
        }
        return out
    }
}
