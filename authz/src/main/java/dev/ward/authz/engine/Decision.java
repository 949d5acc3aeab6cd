package dev.ward.authz.engine;

import java.util.List;

/**
 * The outcome of a policy decision.
 *
 * @param allowed  whether the request may proceed (in audit mode also true when {@code wouldDeny})
 * @param rule     the name of the rule that allowed it, or {@code default}
 * @param reason   snake_case code: {@code allowed}, {@code default_allow}, {@code no_matching_rule},
 *                 {@code identity_not_allowed}, {@code header_mismatch}, {@code token_missing},
 *                 {@code token_forbidden}, or the verifier's {@code token_*} code
 * @param audited  true when the policy is in audit mode and enforcement would have denied
 * @param nearMisses filled only by {@link PolicyEngine#explain}: rules that came close, with the
 *                 conditions they failed
 */
public record Decision(boolean allowed, String rule, String reason, boolean audited, List<NearMiss> nearMisses) {

    /** A rule that did not allow the request and the conditions ({@code from}, {@code methods}, ...) it failed. */
    public record NearMiss(String rule, List<String> failed) {}

    public boolean isTokenProblem() {
        return reason.startsWith("token_");
    }
}
