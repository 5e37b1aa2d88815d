import Foundation
import LockstepCore
import LockstepNative

/// The `cuda` backend: the exact matrix products compiled by NVRTC from the same kernel source
/// as `opencl` (`GPUKernelSource.cuda`, `--fmad=false`) and run through the CUDA driver API, both
/// loaded at run time; every other op on `fallback`.
public final class CUDABackend: DelegatingBackend, @unchecked Sendable {
    /// The backend for every op this one does not run on the device.
    public let fallback: any Backend
    /// Device name and compute capability.
    public let deviceDescription: String
    private let context: CUDAContext
    private let module: CUDAModule
    private let lock = NSLock()
    private var weights = DeviceWeightCache<CUDABuffer>()

    /// NVRTC options for the kernels: no FMA contraction, for the given virtual architecture.
    public static func compileOptions(major: Int, minor: Int) -> [String] {
        ["--fmad=false", "-arch=compute_\(major)\(minor)", "-default-device"]
    }

    /// Opens device `ordinal` and builds the kernels.
    /// - Throws: `BackendError` when the driver, a device or NVRTC is missing, or the build fails.
    public init(fallback: any Backend, ordinal: Int = 0) throws(BackendError) {
        self.fallback = fallback
        do {
            let driver = try CUDADriver()
            let count = try driver.deviceCount()
            guard ordinal < count else { throw BackendError("cuda: device \(ordinal) requested, \(count) present") }
            let (name, major, minor) = try driver.device(ordinal)
            deviceDescription = "\(name) (compute \(major).\(minor))"
            let ptx = try NVRTC().compile(source: GPUKernelSource.cuda, name: "lockstep.cu",
                                          options: Self.compileOptions(major: major, minor: minor))
            context = try CUDAContext(driver: driver, ordinal: ordinal)
            module = try CUDAModule(context: context, ptx: ptx)
        } catch let error as BackendError {
            throw error
        } catch {
            throw BackendError("cuda: \(error)")
        }
    }

    public var name: String { "cuda" }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.blocksPerRow == w.blocksPerRow && y.count >= x.rows * w.rows)
        let count = x.rows * w.rows
        guard count > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        do {
            try context.makeCurrent()
            let weightBuffer = try weights.buffer(for: w) {
                try CUDABuffer(context: context, byteCount: w.bytes.count, contents: w.bytes)
            }
            func upload<T>(_ a: [T]) throws -> CUDABuffer {
                try a.withUnsafeBytes { try CUDABuffer(context: context, byteCount: $0.count, contents: $0) }
            }
            let values = try upload(x.values), exponents = try upload(x.exponents), sums = try upload(x.sums)
            let out = try CUDABuffer(context: context, byteCount: count * 4)
            try module.launch("matmul_exact", blocks: (count + 127) / 128, threadsPerBlock: 128, arguments: [
                .buffer(weightBuffer), .int32(GPUKernelSource.formatCode(w.format)), .int32(Int32(w.rows)), .int32(Int32(w.blocksPerRow)),
                .buffer(values), .buffer(exponents), .buffer(sums), .int32(Int32(x.rows)), .buffer(out),
            ])
            try out.read(into: UnsafeMutableRawBufferPointer(start: y.baseAddress, count: count * 4))
        } catch {
            fatalError("cuda: \(deviceDescription) failed during matmul: \(error)")
        }
    }
}
