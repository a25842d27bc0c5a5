package import Kale

/// How the CLI and the dashboard read a stored message to show it.
package enum MessageDisplay {
    /// The message as this client's format reads it; one it refuses (a bad signature, a key
    /// it lacks) is still shown as plain kale/1, so a dead task can be looked at.
    package static func envelope(_ bytes: [UInt8], _ format: any MessageFormat) -> Envelope? {
        (try? format.decode(bytes)) ?? (try? KaleJSONFormat().decode(bytes))
    }
}
