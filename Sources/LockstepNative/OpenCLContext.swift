internal import COpenCL

// MARK: - Context and queue

/// An OpenCL context on one device together with one in-order command queue.
///
/// Owns the `cl_context` and `cl_command_queue` (released in `deinit`, queue first). Commands run
/// in submission order; `run` only enqueues, `finish()` waits for everything enqueued, buffer reads
/// and writes are blocking.
///
/// Thread rules: OpenCL contexts and queues are thread-safe, so a context may be shared
/// (`@unchecked Sendable`); commands from several threads interleave in the one queue.
public final class OpenCLContext: @unchecked Sendable {
    /// The device the context and queue were created for.
    public let device: OpenCLDevice
    let context: cl_context
    let queue: cl_command_queue

    /// Creates a context and an in-order command queue (no profiling) on `device`.
    /// Throws `OpenCLError` from clCreateContext / clCreateCommandQueue.
    public init(device: OpenCLDevice) throws(OpenCLError) {
        var status: cl_int = CL_SUCCESS
        var deviceID: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &deviceID, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(call: "clCreateContext", code: status == CL_SUCCESS ? CL_INVALID_CONTEXT : status)
        }
        guard let queue = clCreateCommandQueue(context, device.id, 0, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw OpenCLError(call: "clCreateCommandQueue", code: status == CL_SUCCESS ? CL_INVALID_COMMAND_QUEUE : status)
        }
        self.device = device
        self.context = context
        self.queue = queue
    }

    deinit {
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Enqueues `kernel` over an NDRange of 1 to 3 dimensions (`clEnqueueNDRangeKernel`).
    ///
    /// - Parameters:
    ///   - globalSize: work-items per dimension (1...3 entries, each ≥ 1).
    ///   - localSize: work-group size per dimension (same count as `globalSize`), or nil to let the
    ///     runtime choose. In OpenCL 1.2 each global size must be a multiple of the local size.
    /// - Throws: `OpenCLError` (e.g. CL_INVALID_KERNEL_ARGS when an argument is unset,
    ///   CL_INVALID_WORK_GROUP_SIZE). Returns once enqueued; call `finish()` to wait.
    public func run(_ kernel: OpenCLKernel, globalSize: [Int], localSize: [Int]? = nil) throws(OpenCLError) {
        precondition((1...3).contains(globalSize.count), "globalSize needs 1...3 dimensions, got \(globalSize.count)")
        precondition(globalSize.allSatisfy { $0 >= 1 }, "globalSize entries must be ≥ 1: \(globalSize)")
        if let localSize {
            precondition(localSize.count == globalSize.count, "localSize \(localSize) vs globalSize \(globalSize)")
            precondition(localSize.allSatisfy { $0 >= 1 }, "localSize entries must be ≥ 1: \(localSize)")
        }
        precondition(kernel.program.context === self, "kernel belongs to another OpenCLContext")
        let status: cl_int = globalSize.withUnsafeBufferPointer { global in
            if let localSize {
                return localSize.withUnsafeBufferPointer { local in
                    clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil,
                                           global.baseAddress, local.baseAddress, 0, nil, nil)
                }
            }
            return clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil,
                                          global.baseAddress, nil, 0, nil, nil)
        }
        try clCheck(status, "clEnqueueNDRangeKernel")
    }

    /// Blocks until every command enqueued so far has completed (`clFinish`).
    public func finish() throws(OpenCLError) {
        try clCheck(clFinish(queue), "clFinish")
    }

    /// Submits enqueued commands to the device without waiting (`clFlush`).
    public func flush() throws(OpenCLError) {
        try clCheck(clFlush(queue), "clFlush")
    }
}

// MARK: - Buffer

/// A device buffer (`cl_mem`, released in `deinit`) of a fixed number of bytes.
///
/// Reads and writes go through the owning context's queue and are blocking, so they are ordered
/// after every kernel enqueued before them. The buffer keeps its context alive.
///
/// Thread rules: the handle is thread-safe (`@unchecked Sendable`), but concurrent writes to, or a
/// write concurrent with a kernel using, the same bytes race as they would on the device.
public final class OpenCLBuffer: @unchecked Sendable {
    /// How kernels may access a buffer.
    public enum Access: Sendable {
        case readWrite, readOnly, writeOnly

        var flags: cl_mem_flags {
            switch self {
            case .readWrite: return cl_mem_flags(CL_MEM_READ_WRITE)
            case .readOnly: return cl_mem_flags(CL_MEM_READ_ONLY)
            case .writeOnly: return cl_mem_flags(CL_MEM_WRITE_ONLY)
            }
        }
    }

    /// The context the buffer lives in.
    public let context: OpenCLContext
    /// The size in bytes.
    public let byteCount: Int
    let mem: cl_mem

    /// An uninitialised buffer of `byteCount` bytes (contents unspecified until written).
    /// Precondition: byteCount ≥ 1. Throws `OpenCLError` from clCreateBuffer (e.g.
    /// CL_INVALID_BUFFER_SIZE above the device's maxMemAllocSize).
    public init(context: OpenCLContext, byteCount: Int, access: Access = .readWrite) throws(OpenCLError) {
        precondition(byteCount >= 1, "OpenCLBuffer needs at least 1 byte")
        var status: cl_int = CL_SUCCESS
        guard let mem = clCreateBuffer(context.context, access.flags, byteCount, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(call: "clCreateBuffer", code: status == CL_SUCCESS ? CL_INVALID_MEM_OBJECT : status)
        }
        self.context = context
        self.byteCount = byteCount
        self.mem = mem
    }

    /// A buffer initialised with a copy of the bytes of `values` (`values.count *
    /// MemoryLayout<T>.stride` bytes, host byte order). Precondition: `values` is not empty.
    public init<T: BitwiseCopyable>(context: OpenCLContext, copying values: [T], access: Access = .readWrite) throws(OpenCLError) {
        precondition(!values.isEmpty, "OpenCLBuffer needs at least 1 element")
        let byteCount = values.count * MemoryLayout<T>.stride
        var status: cl_int = CL_SUCCESS
        let flags = access.flags | cl_mem_flags(CL_MEM_COPY_HOST_PTR)
        let created = values.withUnsafeBytes { raw in
            // CL_MEM_COPY_HOST_PTR only reads the host memory.
            clCreateBuffer(context.context, flags, byteCount, UnsafeMutableRawPointer(mutating: raw.baseAddress), &status)
        }
        guard let mem = created, status == CL_SUCCESS else {
            throw OpenCLError(call: "clCreateBuffer", code: status == CL_SUCCESS ? CL_INVALID_MEM_OBJECT : status)
        }
        self.context = context
        self.byteCount = byteCount
        self.mem = mem
    }

    deinit {
        clReleaseMemObject(mem)
    }

    /// Copies `values` into the buffer starting at byte `offset` (blocking `clEnqueueWriteBuffer`).
    /// Precondition: the bytes fit: `offset + values.count * stride ≤ byteCount`.
    public func write<T: BitwiseCopyable>(_ values: [T], atByteOffset offset: Int = 0) throws(OpenCLError) {
        let size = values.count * MemoryLayout<T>.stride
        precondition(offset >= 0 && offset + size <= byteCount, "write of \(size) bytes at \(offset) overflows \(byteCount)")
        guard size > 0 else { return }
        let status = values.withUnsafeBytes { raw in
            clEnqueueWriteBuffer(context.queue, mem, cl_bool(CL_TRUE), offset, size, raw.baseAddress, 0, nil, nil)
        }
        try clCheck(status, "clEnqueueWriteBuffer")
    }

    /// Copies `byteCount` bytes from byte `offset` of the buffer into `destination` (blocking
    /// `clEnqueueReadBuffer`, ordered after every command enqueued before it).
    /// Precondition: `offset + destination.count ≤ byteCount`.
    public func read(into destination: UnsafeMutableRawBufferPointer, fromByteOffset offset: Int = 0) throws(OpenCLError) {
        precondition(offset >= 0 && offset + destination.count <= byteCount,
                     "read of \(destination.count) bytes at \(offset) overflows \(byteCount)")
        guard let base = destination.baseAddress, destination.count > 0 else { return }
        let status = clEnqueueReadBuffer(context.queue, mem, cl_bool(CL_TRUE), offset, destination.count, base, 0, nil, nil)
        try clCheck(status, "clEnqueueReadBuffer")
    }

    /// The whole buffer as bytes.
    public func readBytes() throws(OpenCLError) -> [UInt8] {
        try read(as: UInt8.self)
    }

    /// The whole buffer reinterpreted as `byteCount / stride` values of `T` (host byte order).
    /// Precondition: `byteCount` is a multiple of `MemoryLayout<T>.stride`.
    public func read<T: BitwiseCopyable>(as type: T.Type) throws(OpenCLError) -> [T] {
        let stride = MemoryLayout<T>.stride
        precondition(byteCount % stride == 0, "buffer of \(byteCount) bytes is not a whole number of \(T.self)")
        let count = byteCount / stride
        var failure: OpenCLError?
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(OpenCLError) {
                try read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
            }
            initialized = count  // T is bitwise-copyable: every bit pattern read (or left) is a value.
        }
        if let failure { throw failure }
        return values
    }
}

// MARK: - Program

/// An OpenCL C program built from source for the context's device (`cl_program`, released in
/// `deinit`). Keeps its context alive. Thread-safe handle (`@unchecked Sendable`).
public final class OpenCLProgram: @unchecked Sendable {
    /// The context the program was built in.
    public let context: OpenCLContext
    /// The compiler's log of the successful build (warnings; often empty).
    public let buildLog: String
    let program: cl_program

    /// Compiles and links `source` for the context's device with the given build options (for
    /// example "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt").
    /// Throws `OpenCLError`; a failed build (CL_BUILD_PROGRAM_FAILURE, CL_INVALID_BUILD_OPTIONS)
    /// carries the device's full build log in `buildLog`.
    public init(context: OpenCLContext, source: String, options: String = "") throws(OpenCLError) {
        var status: cl_int = CL_SUCCESS
        let created: cl_program? = source.withCString { text in
            var strings: [UnsafePointer<CChar>?] = [text]
            return clCreateProgramWithSource(context.context, 1, &strings, nil, &status)
        }
        guard let program = created, status == CL_SUCCESS else {
            throw OpenCLError(call: "clCreateProgramWithSource", code: status == CL_SUCCESS ? CL_INVALID_PROGRAM : status)
        }
        var deviceID: cl_device_id? = context.device.id
        let buildStatus = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        let log = (try? infoString("clGetProgramBuildInfo") {
            clGetProgramBuildInfo(program, context.device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
        }) ?? "<build log unavailable>"
        guard buildStatus == CL_SUCCESS else {
            clReleaseProgram(program)
            throw OpenCLError(call: "clBuildProgram", code: buildStatus, buildLog: log)
        }
        self.context = context
        self.program = program
        self.buildLog = log
    }

    deinit {
        clReleaseProgram(program)
    }
}

// MARK: - Kernel

/// One `__kernel` function of a built program (`cl_kernel`, released in `deinit`) and its
/// arguments. Keeps its program (and through it the context) and every buffer set as an
/// argument alive.
///
/// Thread rules: setting arguments is not thread-safe in OpenCL (`clSetKernelArg`), so a kernel is
/// not `Sendable`: create one kernel object per thread.
public final class OpenCLKernel {
    /// The program the kernel comes from.
    public let program: OpenCLProgram
    /// The kernel function's name.
    public let name: String
    let kernel: cl_kernel
    private var retainedBuffers: [Int: OpenCLBuffer] = [:]

    /// The kernel `name` of `program` (`clCreateKernel`). Throws `OpenCLError`, e.g.
    /// CL_INVALID_KERNEL_NAME when there is no such `__kernel`.
    public init(program: OpenCLProgram, name: String) throws(OpenCLError) {
        var status: cl_int = CL_SUCCESS
        guard let kernel = clCreateKernel(program.program, name, &status), status == CL_SUCCESS else {
            throw OpenCLError(call: "clCreateKernel", code: status == CL_SUCCESS ? CL_INVALID_KERNEL : status)
        }
        self.program = program
        self.name = name
        self.kernel = kernel
    }

    deinit {
        clReleaseKernel(kernel)
    }

    /// Sets argument `index` (0-based) to a `__global`/`__constant` buffer. The buffer is retained
    /// until the argument is replaced or the kernel is released. Throws `OpenCLError`
    /// (CL_INVALID_ARG_INDEX, CL_INVALID_MEM_OBJECT...).
    public func setArgument(_ index: Int, _ buffer: OpenCLBuffer) throws(OpenCLError) {
        precondition(index >= 0, "kernel argument index must be ≥ 0")
        precondition(buffer.context === program.context, "buffer belongs to another OpenCLContext")
        var mem: cl_mem? = buffer.mem
        let status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem?>.size, &mem)
        try clCheck(status, "clSetKernelArg")
        retainedBuffers[index] = buffer
    }

    /// Sets argument `index` to a by-value scalar or struct: its `MemoryLayout<T>.size` bytes are
    /// copied (e.g. `Int32` for `int`, `UInt32` for `uint`, `Float` for `float`, `Int` for `long`).
    /// Throws `OpenCLError` (CL_INVALID_ARG_SIZE when the size does not match the parameter).
    public func setArgument<T: BitwiseCopyable>(_ index: Int, value: T) throws(OpenCLError) {
        precondition(index >= 0, "kernel argument index must be ≥ 0")
        let status = withUnsafeBytes(of: value) { clSetKernelArg(kernel, cl_uint(index), $0.count, $0.baseAddress) }
        try clCheck(status, "clSetKernelArg")
        retainedBuffers[index] = nil
    }

    /// Sets argument `index`, a `__local` pointer parameter, to `byteCount` bytes of local memory.
    public func setLocalArgument(_ index: Int, byteCount: Int) throws(OpenCLError) {
        precondition(index >= 0 && byteCount >= 1, "local argument needs index ≥ 0 and ≥ 1 byte")
        try clCheck(clSetKernelArg(kernel, cl_uint(index), byteCount, nil), "clSetKernelArg")
        retainedBuffers[index] = nil
    }

    /// CL_KERNEL_WORK_GROUP_SIZE: the largest work-group this kernel can run with on the device.
    public func maxWorkGroupSize() throws(OpenCLError) -> Int {
        var value = 0
        let status = clGetKernelWorkGroupInfo(kernel, program.context.device.id,
                                              cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                              MemoryLayout<Int>.size, &value, nil)
        try clCheck(status, "clGetKernelWorkGroupInfo")
        return value
    }
}
