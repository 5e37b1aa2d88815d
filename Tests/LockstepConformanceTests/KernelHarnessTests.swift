import Foundation
import XCTest
import LockstepTestSupport
import LockstepCore
import LockstepCPU

/// Runs the C kernels on their own, outside Swift, against the reference backend's outputs:
/// natively (every x86 path through the C API), and — the point of it — cross-compiled for
/// AArch64 and run under qemu-user, which checks the NEON path bit for bit on this machine.
/// Needs `aarch64-linux-gnu-gcc` and `qemu-aarch64` (Debian: gcc-aarch64-linux-gnu,
/// libc6-dev-arm64-cross, qemu-user); skipped when they are missing.
final class KernelHarnessTests: XCTestCase {
    static let kernelsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/CLockstepKernels").standardizedFileURL

    func testNEONPathUnderQEMU() throws {
        guard let gcc = which("aarch64-linux-gnu-gcc"), let qemu = which("qemu-aarch64") else {
            throw XCTSkip("aarch64-linux-gnu-gcc or qemu-aarch64 not installed")
        }
        let dir = try temporaryDirectory()
        let vectors = dir.appendingPathComponent("vectors.bin")
        try VectorWriter.makeVectors().write(to: vectors)
        let exe = dir.appendingPathComponent("harness-aarch64").path
        try compile(gcc, output: exe, extra: ["-static"])
        let (status, out) = try run(qemu, [exe, vectors.path])
        checkSummary(status, out, requiredISA: "neon")
    }

    func testHarnessNatively() throws {
        guard let cc = which("clang") ?? which("cc") else { throw XCTSkip("no C compiler") }
        let dir = try temporaryDirectory()
        let vectors = dir.appendingPathComponent("vectors.bin")
        try VectorWriter.makeVectors().write(to: vectors)
        let exe = dir.appendingPathComponent("harness-native").path
        try compile(cc, output: exe, extra: [])
        let (status, out) = try run(exe, [vectors.path])
        checkSummary(status, out, requiredISA: "scalar")
    }

    // MARK: helpers

    private func checkSummary(_ status: Int32, _ out: String, requiredISA: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(status, 0, "harness failed:\n\(out.suffix(4000))", file: file, line: line)
        guard let summary = out.split(separator: "\n").first(where: { $0.hasPrefix("cases ") }) else {
            XCTFail("no summary in harness output:\n\(out.suffix(2000))", file: file, line: line)
            return
        }
        let fields = summary.split(separator: " ")
        XCTAssertEqual(fields.count, 6, file: file, line: line)
        XCTAssertGreaterThan(Int(fields[1]) ?? 0, 100, "too few cases", file: file, line: line)
        XCTAssertEqual(fields[5], "0", "failures", file: file, line: line)
        XCTAssertTrue(out.contains(" \(requiredISA)"), "\(requiredISA) path not run: \(out.prefix(200))", file: file, line: line)
    }

    private func compile(_ cc: String, output: String, extra: [String]) throws {
        let dir = Self.kernelsDirectory
        let sources = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".c") }.sorted()
            .map { dir.appendingPathComponent($0).path } + [dir.appendingPathComponent("testing/harness.c").path]
        let args = ["-O2", "-std=gnu11", "-ffp-contract=off", "-fno-fast-math", "-DLOCKSTEP_KERNELS_HARNESS",
                    "-I", dir.appendingPathComponent("include").path, "-I", dir.path] + extra + sources +
            ["-o", output, "-lpthread", "-lm"]
        let (status, out) = try run(cc, args)
        guard status == 0 else { throw HarnessError("compiling the kernels failed:\n\(out.suffix(4000))") }
    }

    private func run(_ exe: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for d in path.split(separator: ":") {
            let candidate = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private func temporaryDirectory() throws -> URL {
        let dir = try freshTemporaryDirectory("harness")
        if ProcessInfo.processInfo.environment["LOCKSTEP_KEEP_VECTORS"] == nil {
            addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        }
        return dir
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Writes the harness's vector file: op records with inputs and the reference backend's outputs.
enum VectorWriter {
    static func makeVectors() -> Data {
        var d = Data("LKV1".utf8)
        var rng = SplitMix64(seed: 0xC0_FFEE)
        let reference = ReferenceBackend()
        func put<T>(_ v: T) { withUnsafeBytes(of: v) { d.append(contentsOf: $0) } }
        func putArray<T>(_ a: [T]) { a.withUnsafeBytes { d.append(contentsOf: $0) } }

        // quantize
        for (rows, cols) in [(1, 33), (3, 100), (17, 576), (2, 1536)] {
            for kind in FloatKind.allCases {
                let x = kind.make(rows * cols, rng: &rng)
                let q = x.withUnsafeBufferPointer { reference.quantize($0, rows: rows, columns: cols) }
                put(Int32(1)); put(Int64(rows)); put(Int64(cols)); putArray(x)
                putArray(q.values); putArray(q.exponents); putArray(q.sums)
            }
        }
        // matmul
        func matmul(_ w: WeightMatrix, _ x: QuantizedActivations) {
            var y = [Float](repeating: 0, count: x.rows * w.rows)
            y.withUnsafeMutableBufferPointer { reference.matmul(w, x, into: $0) }
            let code: Int32 = w.format == .q8_0 ? 0 : w.format == .q4_0 ? 1 : 2
            put(Int32(2)); put(code); put(Int64(w.rows)); put(Int64(w.blocksPerRow)); put(Int64(x.rows))
            d.append(contentsOf: w.bytes)
            putArray(x.values); putArray(x.exponents); putArray(x.sums); putArray(y)
        }
        let shapes: [(Int, Int, Int)] = [(1, 32, 1), (17, 96, 2), (33, 576, 1), (31, 576, 4), (48, 576, 17), (20, 64, 3), (64, 1536, 1)]
        for format in WeightFormat.allCases {
            for (i, s) in shapes.enumerated() {
                matmul(makeWeights(format, rows: s.0, columns: s.1, scales: .typical, rng: &rng),
                       ActivationKind.floats(.normal).make(rows: s.2, columns: s.1, rng: &rng))
                let acts = ActivationKind.allCases
                matmul(makeWeights(format, rows: s.0, columns: s.1, scales: ScaleKind.allCases[i % ScaleKind.allCases.count], rng: &rng),
                       acts[(i * 3 + 1) % acts.count].make(rows: s.2, columns: s.1, rng: &rng))
            }
            for sk in ScaleKind.allCases {
                for ak in ActivationKind.allCases {
                    matmul(makeWeights(format, rows: 21, columns: 96, scales: sk, rng: &rng), ak.make(rows: 3, columns: 96, rng: &rng))
                }
            }
        }
        // rms norm
        for (rows, n) in [(1, 1), (3, 33), (2, 576), (1, 1536)] {
            for kind in FloatKind.allCases {
                let x = kind.make(rows * n, rng: &rng), w = (0..<n).map { _ in rng.normal() }
                var y = [Float](repeating: 0, count: rows * n)
                x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer {
                    reference.rmsNorm(xp, weight: wp, rows: rows, epsilon: 1e-5, into: $0) } } }
                put(Int32(3)); put(Int64(rows)); put(Int64(n)); put(Float(1e-5)); putArray(x); putArray(w); putArray(y)
            }
        }
        // rope
        for (rows, heads, hd, rot) in [(1, 9, 64, 64), (3, 2, 48, 48), (5, 4, 64, 32)] {
            let angles = RopeAngles(rotatedDimensions: rot, base: 100000)
            let positions = (0..<rows).map { _ in rng.int(0...50000) }
            let x = FloatKind.normal.make(rows * heads * hd, rng: &rng)
            var y = x
            y.withUnsafeMutableBufferPointer { reference.rope($0, rows: rows, heads: heads, headDim: hd, positions: positions, angles: angles) }
            put(Int32(4)); put(Int64(rows)); put(Int64(heads)); put(Int64(hd)); put(Int64(angles.pairs))
            putArray(positions.map { Int64($0) }); putArray(angles.inverseFrequencies); putArray(x); putArray(y)
        }
        // silu_mul and add
        for n in [1, 7, 100, 1536] {
            for kind in FloatKind.allCases {
                let g = kind.make(n, rng: &rng), u = FloatKind.normal.make(n, rng: &rng)
                var y = [Float](repeating: 0, count: n)
                g.withUnsafeBufferPointer { gp in u.withUnsafeBufferPointer { up in y.withUnsafeMutableBufferPointer {
                    reference.siluMul(gate: gp, up: up, into: $0) } } }
                put(Int32(5)); put(Int64(n)); putArray(g); putArray(u); putArray(y)
                var z = g
                u.withUnsafeBufferPointer { up in z.withUnsafeMutableBufferPointer { reference.add($0, up) } }
                put(Int32(6)); put(Int64(n)); putArray(g); putArray(u); putArray(z)
            }
        }
        // attention
        for shape in [AttentionShape(heads: 9, kvHeads: 3, headDim: 64), AttentionShape(heads: 6, kvHeads: 2, headDim: 48),
                      AttentionShape(heads: 8, kvHeads: 1, headDim: 64), AttentionShape(heads: 3, kvHeads: 1, headDim: 16)] {
            for (length, scale) in [(1, Float(1)), (40, 1), (40, 8), (70, 1)] {
                let cache = KVCache(layers: 1, shape: shape)
                let width = shape.kvHeads * shape.headDim
                let k = FloatKind.normal.make(length * width, rng: &rng).map { $0 * scale }
                let v = FloatKind.wideBlocks.make(length * width, rng: &rng)
                k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in cache.append(layer: 0, keys: kp, values: vp, rows: length) } }
                let positions = [length - 1, 0, length / 2]
                let q = FloatKind.normal.make(positions.count * shape.heads * shape.headDim, rng: &rng).map { $0 * scale }
                var out = [Float](repeating: 0, count: q.count)
                q.withUnsafeBufferPointer { qp in out.withUnsafeMutableBufferPointer {
                    reference.attention(queries: qp, rows: positions.count, positions: positions, cache: cache, layer: 0, into: $0) } }
                put(Int32(7)); put(Int64(shape.heads)); put(Int64(shape.kvHeads)); put(Int64(shape.headDim)); put(Int64(length))
                put(Int64(positions.count)); put(shape.scale); putArray(positions.map { Int64($0) })
                putArray(cache.keys[0]); putArray(cache.keyExponents[0]); putArray(cache.values[0]); putArray(cache.valueExponents[0])
                putArray(q); putArray(out)
            }
        }
        put(Int32(0))
        return d
    }
}
