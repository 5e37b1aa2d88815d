/// The version of the arithmetic contract (Papers/SPEC.md) this build implements.
///
/// Every commitment names it. Any change to any bit of any output — quantisation, the exact
/// products, a light op, the sampler — bumps it and regenerates the vectors.
public enum ContractVersion {
    /// The contract version string, e.g. `"0.1"`.
    public static let current = "0.1"
}
