import LockstepCore

/// The GPU kernels, one source for OpenCL C and CUDA C++ (NVRTC): a thin macro prelude per
/// dialect, then kernels written in the common subset. What runs on PoCL here is what CUDA runs.
///
/// The kernels use integer arithmetic only — the block dot products, the exact accumulator and
/// the final rounding to binary32 are integer operations on bit patterns — so device
/// floating-point modes (denormal flushing, FMA contraction) cannot change a bit. CUDA is still
/// compiled with `--fmad=false` and OpenCL with `FP_CONTRACT OFF`, for any float op added later.
public enum GPUKernelSource {
    /// The `format` argument of `matmul_exact` for a weight format: 0 Q8_0, 1 Q4_0, 2 Q4_1.
    static func formatCode(_ f: WeightFormat) -> Int32 {
        switch f {
        case .q8_0: return 0
        case .q4_0: return 1
        case .q4_1: return 2
        }
    }

    /// The dialect prelude for OpenCL C 1.2.
    static let openCLPrelude = """
        #pragma OPENCL FP_CONTRACT OFF
        #define KERNEL __kernel
        #define GLOBAL __global
        #define DEVICE_FN static
        #define GLOBAL_ID() ((long)get_global_id(0))
        typedef long i64; typedef ulong u64; typedef int i32; typedef uint u32;
        typedef short i16; typedef ushort u16; typedef char i8; typedef uchar u8;

        """

    /// The dialect prelude for CUDA C++ compiled by NVRTC.
    static let cudaPrelude = """
        #define KERNEL extern "C" __global__
        #define GLOBAL
        #define DEVICE_FN static __device__
        #define GLOBAL_ID() ((long long)blockIdx.x * blockDim.x + threadIdx.x)
        typedef long long i64; typedef unsigned long long u64; typedef int i32; typedef unsigned int u32;
        typedef short i16; typedef unsigned short u16; typedef signed char i8; typedef unsigned char u8;

        """

    /// The kernels in the common subset (SPEC §2: exact products).
    static let body = """
        /* Exact accumulator: value = sum of limbs[i] * 2^(32 i + ACC_MIN_EXP) (SPEC §2.3). */
        #define ACC_MIN_EXP (-416)
        #define ACC_LIMBS 28

        DEVICE_FN void acc_add(i64 *limbs, i64 value, i32 exponent) {
            if (value == 0) return;
            i32 offset = exponent - ACC_MIN_EXP;
            i32 index = offset >> 5;
            i64 scale = (i64)1 << (offset & 31);
            i64 lo = value & 0xFFFFFFFF;          /* 0 .. 2^32-1 */
            i64 hi = (value - lo) / 4294967296;    /* exact: value - lo is a multiple of 2^32 */
            i64 los = lo * scale;                  /* < 2^63 */
            i64 his = hi * scale;                  /* |.| < 2^61 */
            i64 hisLo = his & 0xFFFFFFFF;
            limbs[index] += los & 0xFFFFFFFF;
            limbs[index + 1] += (los >> 32) + hisLo;
            limbs[index + 2] += (his - hisLo) / 4294967296;
        }

        /* Round the exact sum to binary32 (RNE, IEEE overflow and subnormals); returns the bits. */
        DEVICE_FN u32 acc_round(i64 *limbs) {
            u32 digits[ACC_LIMBS];
            i64 carry = 0;
            for (int i = 0; i < ACC_LIMBS; i++) {
                i64 v = limbs[i] + carry;
                i64 d = v & 0xFFFFFFFF;
                digits[i] = (u32)d;
                carry = (v - d) / 4294967296;
            }
            u32 sign = 0;
            if (carry < 0) {
                sign = 0x80000000u;
                u64 c = 1;
                for (int i = 0; i < ACC_LIMBS; i++) {
                    u64 v = (u64)(~digits[i]) + c;
                    digits[i] = (u32)v;
                    c = v >> 32;
                }
            }
            int top = ACC_LIMBS - 1;
            while (top >= 0 && digits[top] == 0) top--;
            if (top < 0) return 0u;
            int topBit = 31;
            while (((digits[top] >> topBit) & 1u) == 0u) topBit--;
            int p = ACC_MIN_EXP + 32 * top + topBit;
            if (p > 127) return sign | 0x7F800000u;
            int lsb = p - 23 > -149 ? p - 23 : -149;
            u32 mantissa = 0;
            for (int e = p; e >= lsb; e--) {
                int o = e - ACC_MIN_EXP;
                mantissa = (mantissa << 1) | ((digits[o >> 5] >> (o & 31)) & 1u);
            }
            int ro = lsb - 1 - ACC_MIN_EXP;
            u32 roundBit = ro >= 0 ? (digits[ro >> 5] >> (ro & 31)) & 1u : 0u;
            int sticky = 0;
            int stickyTop = lsb - 2 - ACC_MIN_EXP;
            if (stickyTop >= 0) {
                int full = (stickyTop + 1) >> 5;
                for (int i = 0; i < full; i++) if (digits[i] != 0u) sticky = 1;
                int rem = (stickyTop + 1) & 31;
                if (!sticky && rem > 0 && (digits[full] & ((1u << rem) - 1u)) != 0u) sticky = 1;
            }
            if (roundBit == 1u && (sticky || (mantissa & 1u))) mantissa += 1u;
            int exponent = lsb;
            if (mantissa == (1u << 24)) { mantissa = 1u << 23; exponent += 1; }
            if (exponent + 23 > 127) return sign | 0x7F800000u;
            u32 bits = mantissa >= (1u << 23) ? ((u32)(exponent + 23 + 127) << 23) | (mantissa & 0x7FFFFFu) : mantissa;
            return sign | bits;
        }

        /* fp16 bits -> (signed integer significand, exponent). Inf/NaN never reach here (rejected at load). */
        DEVICE_FN void split_half(u32 bits, i32 *significand, i32 *exponent) {
            i32 e = (i32)((bits >> 10) & 0x1F);
            i32 f = (i32)(bits & 0x3FF);
            i32 s = e == 0 ? f : (f | 0x400);
            *exponent = e == 0 ? -24 : e - 25;
            *significand = (bits & 0x8000u) ? -s : s;
        }

        /* y[t*rows + r] = round(sum_k w[r,k] x[t,k]) exactly (SPEC §2.3).
           w: rows x blocksPerRow blocks of `format` (0 Q8_0, 1 Q4_0, 2 Q4_1); x: tokens x blocksPerRow
           blocks of 32 int16 with exponents xe and block sums xs; y: binary32 bit patterns. */
        KERNEL void matmul_exact(GLOBAL const u8 *w, i32 format, i32 rows, i32 blocksPerRow,
                                 GLOBAL const i16 *xv, GLOBAL const i32 *xe, GLOBAL const i32 *xs,
                                 i32 tokens, GLOBAL u32 *y) {
            i64 gid = GLOBAL_ID();
            if (gid >= (i64)tokens * rows) return;
            i32 t = (i32)(gid / rows), r = (i32)(gid % rows);
            i32 blockBytes = format == 0 ? 34 : (format == 1 ? 18 : 20);
            i64 limbs[ACC_LIMBS];
            for (int i = 0; i < ACC_LIMBS; i++) limbs[i] = 0;
            GLOBAL const u8 *row = w + (i64)r * blocksPerRow * blockBytes;
            for (i32 b = 0; b < blocksPerRow; b++) {
                GLOBAL const u8 *blk = row + (i64)b * blockBytes;
                i64 xb = (i64)t * blocksPerRow + b;
                GLOBAL const i16 *s = xv + xb * 32;
                i32 e = xe[xb];
                i32 dSig, dExp;
                split_half((u32)blk[0] | ((u32)blk[1] << 8), &dSig, &dExp);
                i32 isum = 0;
                if (format == 0) {
                    GLOBAL const i8 *q = (GLOBAL const i8 *)(blk + 2);
                    for (int j = 0; j < 32; j++) isum += (i32)q[j] * (i32)s[j];
                } else if (format == 1) {
                    for (int j = 0; j < 16; j++) {
                        u32 byte = blk[2 + j];
                        isum += ((i32)(byte & 15u) - 8) * (i32)s[j];
                        isum += ((i32)(byte >> 4) - 8) * (i32)s[j + 16];
                    }
                } else {
                    for (int j = 0; j < 16; j++) {
                        u32 byte = blk[4 + j];
                        isum += (i32)(byte & 15u) * (i32)s[j];
                        isum += (i32)(byte >> 4) * (i32)s[j + 16];
                    }
                    i32 mSig, mExp;
                    split_half((u32)blk[2] | ((u32)blk[3] << 8), &mSig, &mExp);
                    acc_add(limbs, (i64)mSig * (i64)xs[xb], mExp + e);
                }
                acc_add(limbs, (i64)dSig * (i64)isum, dExp + e);
            }
            y[gid] = acc_round(limbs);
        }

        """

    /// The complete OpenCL C program.
    public static var openCL: String { openCLPrelude + body }
    /// The complete CUDA C++ program for NVRTC.
    public static var cuda: String { cudaPrelude + body }
}
