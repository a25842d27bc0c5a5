/// Where a fleet-wide definition (a task's limits, a schedule) was made.
///
/// Code declares them so a deploy brings them along; operators change them at run time. A
/// worker starting with code that declares one replaces a stored ``code`` definition that
/// differs, and leaves a ``runtime`` one alone: what an operator set stays set until they
/// change it again.
public enum DefinitionOrigin: String, Sendable, Hashable, Codable {
    case code, runtime
}
