import Foundation
import LockstepCore
import LockstepNative

/// The `opencl` backend: the exact matrix products run as OpenCL kernels (`GPUKernelSource`),
/// every other op on `fallback`. Runs here on PoCL (CPU); on GPUs elsewhere.
///
/// The products use integer arithmetic only, so the device's floating-point modes cannot change
/// a bit; the backend still refuses a device that lacks what the kernels need (64-bit integers
/// of the OpenCL full profile), naming what is missing.
public final class OpenCLBackend: DelegatingBackend, @unchecked Sendable {
    /// The device the kernels run on.
    public let device: OpenCLDevice
    /// The backend for every op this one does not run on the device.
    public let fallback: any Backend
    private let context: OpenCLContext
    private let kernel: OpenCLKernel
    private let lock = NSLock()
    private var weights = DeviceWeightCache<OpenCLBuffer>()

    /// Opens the first OpenCL device (or `deviceName` when given) and builds the kernels.
    /// - Throws: `BackendError` when no platform or device exists, the device lacks the full
    ///   profile, or the program does not build (with the build log).
    public init(fallback: any Backend, deviceName: String? = nil) throws(BackendError) {
        let platforms: [OpenCLPlatform]
        do { platforms = try OpenCLPlatform.all() } catch { throw BackendError("opencl: cannot list platforms: \(error)") }
        let devices = platforms.flatMap { p in p.devices.map { (p, $0) } }
        guard let (platform, device) = devices.first(where: { deviceName == nil || $0.1.name == deviceName }) else {
            throw BackendError(devices.isEmpty ? "opencl: no OpenCL platform or device is installed (install pocl-opencl-icd for the CPU)"
                                               : "opencl: no device named '\(deviceName!)' (have: \(devices.map(\.1.name).joined(separator: ", ")))")
        }
        guard platform.profile == "FULL_PROFILE" else {
            throw BackendError("opencl: device '\(device.name)' has the \(platform.profile); the exact products need the full profile's 64-bit integers")
        }
        self.device = device
        self.fallback = fallback
        do {
            context = try OpenCLContext(device: device)
            let program = try OpenCLProgram(context: context, source: GPUKernelSource.openCL, options: "-cl-std=CL1.2")
            kernel = try OpenCLKernel(program: program, name: "matmul_exact")
        } catch {
            throw BackendError("opencl: device '\(device.name)': \(error)")
        }
    }

    public var name: String { "opencl" }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.blocksPerRow == w.blocksPerRow && y.count >= x.rows * w.rows)
        let count = x.rows * w.rows
        guard count > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        do {
            let weightBuffer = try weights.buffer(for: w) {
                try OpenCLBuffer(context: context, copying: [UInt8](w.bytes), access: .readOnly)
            }
            let values = try OpenCLBuffer(context: context, copying: x.values, access: .readOnly)
            let exponents = try OpenCLBuffer(context: context, copying: x.exponents, access: .readOnly)
            let sums = try OpenCLBuffer(context: context, copying: x.sums, access: .readOnly)
            let out = try OpenCLBuffer(context: context, byteCount: count * 4, access: .writeOnly)
            try kernel.setArgument(0, weightBuffer)
            try kernel.setArgument(1, value: GPUKernelSource.formatCode(w.format))
            try kernel.setArgument(2, value: Int32(w.rows))
            try kernel.setArgument(3, value: Int32(w.blocksPerRow))
            try kernel.setArgument(4, values)
            try kernel.setArgument(5, exponents)
            try kernel.setArgument(6, sums)
            try kernel.setArgument(7, value: Int32(x.rows))
            try kernel.setArgument(8, out)
            try context.run(kernel, globalSize: [count])
            try out.read(into: UnsafeMutableRawBufferPointer(start: y.baseAddress, count: count * 4))
        } catch {
            // A device failure mid-run cannot be turned into different bits: stop loudly.
            fatalError("opencl: device '\(device.name)' failed during matmul: \(error)")
        }
    }
}
