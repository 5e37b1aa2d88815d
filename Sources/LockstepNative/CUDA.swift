import Foundation
internal import CCUDALoader

/// A failure of the CUDA driver API or NVRTC: the call and the library's error name.
public struct CUDAError: Error, CustomStringConvertible, Sendable {
    /// The failing call (or "dlopen").
    public let call: String
    /// The library's error name or message.
    public let message: String
    /// Compiler log, for NVRTC compilation failures.
    public let log: String?

    public var description: String {
        "\(call): \(message)" + (log.map { "\n\($0)" } ?? "")
    }
}

/// NVRTC, the CUDA runtime compiler, loaded at run time: `LOCKSTEP_NVRTC` (a path to
/// `libnvrtc.so.12`, e.g. from the `nvidia-cuda-nvrtc-cu12` wheel), else the system's
/// `libnvrtc.so.12`. Works without a GPU or driver: compiling to PTX needs neither.
public final class NVRTC: @unchecked Sendable {
    private var api = lk_nvrtc_api()

    /// - Throws: `CUDAError` naming why the library or one of its symbols cannot be loaded.
    public init(path: String? = ProcessInfo.processInfo.environment["LOCKSTEP_NVRTC"].flatMap { $0.isEmpty ? nil : $0 }) throws(CUDAError) {
        var error = [CChar](repeating: 0, count: 512)
        if lk_nvrtc_load(&api, path, &error, error.count) != 0 {
            throw CUDAError(call: "dlopen", message: cText(error), log: nil)
        }
    }

    deinit { lk_library_close(api.handle) }

    /// NVRTC's version.
    public var version: (major: Int, minor: Int) {
        var major: Int32 = 0, minor: Int32 = 0
        _ = api.nvrtcVersion(&major, &minor)
        return (Int(major), Int(minor))
    }

    /// Compiles CUDA C++ `source` to PTX text.
    /// - Throws: `CUDAError` with the compiler log when compilation fails.
    public func compile(source: String, name: String, options: [String]) throws(CUDAError) -> String {
        var program: lk_nvrtcProgram? = nil
        try check("nvrtcCreateProgram", api.nvrtcCreateProgram(&program, source, name, 0, nil, nil))
        defer { _ = api.nvrtcDestroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let status = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { opts in
            api.nvrtcCompileProgram(program, Int32(opts.count), opts.baseAddress)
        }
        if status != 0 {
            var size = 0
            _ = api.nvrtcGetProgramLogSize(program, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            _ = api.nvrtcGetProgramLog(program, &log)
            throw CUDAError(call: "nvrtcCompileProgram", message: errorString(status), log: cText(log))
        }
        var size = 0
        try check("nvrtcGetPTXSize", api.nvrtcGetPTXSize(program, &size))
        var ptx = [CChar](repeating: 0, count: size + 1)
        try check("nvrtcGetPTX", api.nvrtcGetPTX(program, &ptx))
        return cText(ptx)
    }

    private func check(_ call: String, _ status: Int32) throws(CUDAError) {
        if status != 0 { throw CUDAError(call: call, message: errorString(status), log: nil) }
    }

    private func errorString(_ status: Int32) -> String {
        api.nvrtcGetErrorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
    }
}

/// The CUDA driver API (`libcuda.so.1`), loaded at run time; `cuInit` is called on load.
public final class CUDADriver: @unchecked Sendable {
    fileprivate var api = lk_cuda_api()

    /// - Throws: `CUDAError` when the driver is absent (no NVIDIA driver installed) or fails to initialise.
    public init(path: String? = nil) throws(CUDAError) {
        var error = [CChar](repeating: 0, count: 512)
        if lk_cuda_load(&api, path, &error, error.count) != 0 {
            throw CUDAError(call: "dlopen", message: cText(error), log: nil)
        }
        try check("cuInit", api.cuInit(0))
    }

    deinit { lk_library_close(api.handle) }

    /// Number of CUDA devices.
    public func deviceCount() throws(CUDAError) -> Int {
        var n: Int32 = 0
        try check("cuDeviceGetCount", api.cuDeviceGetCount(&n))
        return Int(n)
    }

    /// Name and compute capability of device `ordinal`.
    public func device(_ ordinal: Int) throws(CUDAError) -> (name: String, major: Int, minor: Int) {
        var device: Int32 = 0
        try check("cuDeviceGet", api.cuDeviceGet(&device, Int32(ordinal)))
        var name = [CChar](repeating: 0, count: 256)
        try check("cuDeviceGetName", api.cuDeviceGetName(&name, Int32(name.count), device))
        var major: Int32 = 0, minor: Int32 = 0
        try check("cuDeviceGetAttribute", api.cuDeviceGetAttribute(&major, 75, device))   // COMPUTE_CAPABILITY_MAJOR
        try check("cuDeviceGetAttribute", api.cuDeviceGetAttribute(&minor, 76, device))   // COMPUTE_CAPABILITY_MINOR
        return (cText(name), Int(major), Int(minor))
    }

    fileprivate func check(_ call: String, _ status: Int32) throws(CUDAError) {
        guard status != 0 else { return }
        var name: UnsafePointer<CChar>? = nil
        _ = api.cuGetErrorName(status, &name)
        throw CUDAError(call: call, message: name.map { String(cString: $0) } ?? "CUDA error \(status)", log: nil)
    }
}

/// A CUDA context on one device, owning it (destroyed in deinit), with the module it runs.
public final class CUDAContext: @unchecked Sendable {
    /// The driver.
    public let driver: CUDADriver
    private let context: lk_CUcontext

    /// Creates a context on device `ordinal` and makes it current on this thread.
    public init(driver: CUDADriver, ordinal: Int) throws(CUDAError) {
        self.driver = driver
        var device: Int32 = 0
        try driver.check("cuDeviceGet", driver.api.cuDeviceGet(&device, Int32(ordinal)))
        var ctx: lk_CUcontext? = nil
        try driver.check("cuCtxCreate", driver.api.cuCtxCreate(&ctx, 0, device))
        context = ctx!
    }

    deinit { _ = driver.api.cuCtxDestroy(context) }

    /// Makes the context current on the calling thread.
    public func makeCurrent() throws(CUDAError) { try driver.check("cuCtxSetCurrent", driver.api.cuCtxSetCurrent(context)) }

    /// Waits for all work.
    public func synchronize() throws(CUDAError) { try driver.check("cuCtxSynchronize", driver.api.cuCtxSynchronize()) }
}

/// A loaded PTX module (unloaded in deinit).
public final class CUDAModule: @unchecked Sendable {
    private let context: CUDAContext
    private let module: lk_CUmodule

    /// Loads `ptx` into `context`.
    public init(context: CUDAContext, ptx: String) throws(CUDAError) {
        self.context = context
        var m: lk_CUmodule? = nil
        try context.driver.check("cuModuleLoadData", ptx.withCString { context.driver.api.cuModuleLoadData(&m, $0) })
        module = m!
    }

    deinit { _ = context.driver.api.cuModuleUnload(module) }

    /// Launches kernel `name` on a 1-D grid of `blocks × threadsPerBlock` threads and waits.
    public func launch(_ name: String, blocks: Int, threadsPerBlock: Int, arguments: [CUDAKernelArgument]) throws(CUDAError) {
        var f: lk_CUfunction? = nil
        try context.driver.check("cuModuleGetFunction", context.driver.api.cuModuleGetFunction(&f, module, name))
        // Each argument lives in its own 8-byte slot; the kernel reads it through a pointer.
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(arguments.count, 1))
        defer { slots.deallocate() }
        var pointers: [UnsafeMutableRawPointer?] = []
        for (i, a) in arguments.enumerated() {
            switch a {
            case .buffer(let b): slots[i] = b.address
            case .int32(let v): slots[i] = 0; UnsafeMutableRawPointer(slots + i).storeBytes(of: v, as: Int32.self)
            }
            pointers.append(UnsafeMutableRawPointer(slots + i))
        }
        let status = pointers.withUnsafeMutableBufferPointer { p in
            context.driver.api.cuLaunchKernel(f, UInt32(blocks), 1, 1, UInt32(threadsPerBlock), 1, 1, 0, nil, p.baseAddress, nil)
        }
        try context.driver.check("cuLaunchKernel", status)
        try context.synchronize()
    }
}

/// A kernel argument.
public enum CUDAKernelArgument {
    /// A device buffer (passed as its device address).
    case buffer(CUDABuffer)
    /// A 32-bit integer.
    case int32(Int32)
}

/// Device memory, freed in deinit.
public final class CUDABuffer: @unchecked Sendable {
    private let context: CUDAContext
    fileprivate let address: UInt64
    /// Size in bytes.
    public let byteCount: Int

    /// Allocates `byteCount` bytes and, when given, copies `contents` into them.
    public init(context: CUDAContext, byteCount: Int, contents: UnsafeRawBufferPointer? = nil) throws(CUDAError) {
        self.context = context
        self.byteCount = byteCount
        var p: UInt64 = 0
        try context.driver.check("cuMemAlloc", context.driver.api.cuMemAlloc(&p, max(byteCount, 1)))
        address = p
        if let contents {
            precondition(contents.count <= byteCount)
            try context.driver.check("cuMemcpyHtoD", context.driver.api.cuMemcpyHtoD(p, contents.baseAddress, contents.count))
        }
    }

    deinit { _ = context.driver.api.cuMemFree(address) }

    /// Copies the first `destination.count` bytes back to the host.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws(CUDAError) {
        precondition(destination.count <= byteCount)
        try context.driver.check("cuMemcpyDtoH", context.driver.api.cuMemcpyDtoH(destination.baseAddress, address, destination.count))
    }
}

/// The text of a C character buffer filled by a C call: up to its first NUL (all of it without one).
private func cText(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
