package api

import "net/http"

// addControlPlaneRoutes adds the control-plane operations of role aliases, billing groups,
// logging options and fleet indexing (the fixed paths before the {name} ones).
func (s *server) addControlPlaneRoutes(rt *router) {
	// Role aliases (the device side, /role-aliases/{alias}/credentials, is credentials.go's).
	rt.add(http.MethodGet, "/role-aliases", "ListRoleAliases", s.listRoleAliases)
	rt.add(http.MethodPost, "/role-aliases/{roleAlias}", "CreateRoleAlias", s.createRoleAlias)
	rt.add(http.MethodGet, "/role-aliases/{roleAlias}", "DescribeRoleAlias", s.describeRoleAlias)
	rt.add(http.MethodPut, "/role-aliases/{roleAlias}", "UpdateRoleAlias", s.updateRoleAlias)
	rt.add(http.MethodDelete, "/role-aliases/{roleAlias}", "DeleteRoleAlias", s.deleteRoleAlias)
	// Billing groups.
	rt.add(http.MethodPut, "/billing-groups/addThingToBillingGroup", "AddThingToBillingGroup", s.addThingToBillingGroup)
	rt.add(http.MethodPut, "/billing-groups/removeThingFromBillingGroup", "RemoveThingFromBillingGroup", s.removeThingFromBillingGroup)
	rt.add(http.MethodGet, "/billing-groups", "ListBillingGroups", s.listBillingGroups)
	rt.add(http.MethodPost, "/billing-groups/{billingGroupName}", "CreateBillingGroup", s.createBillingGroup)
	rt.add(http.MethodGet, "/billing-groups/{billingGroupName}", "DescribeBillingGroup", s.describeBillingGroup)
	rt.add(http.MethodPatch, "/billing-groups/{billingGroupName}", "UpdateBillingGroup", s.updateBillingGroup)
	rt.add(http.MethodDelete, "/billing-groups/{billingGroupName}", "DeleteBillingGroup", s.deleteBillingGroup)
	rt.add(http.MethodGet, "/billing-groups/{billingGroupName}/things", "ListThingsInBillingGroup", s.listThingsInBillingGroup)
	// Logging options.
	rt.add(http.MethodGet, "/loggingOptions", "GetLoggingOptions", s.getLoggingOptions)
	rt.add(http.MethodPost, "/loggingOptions", "SetLoggingOptions", s.setLoggingOptions)
	rt.add(http.MethodGet, "/v2LoggingOptions", "GetV2LoggingOptions", s.getV2LoggingOptions)
	rt.add(http.MethodPost, "/v2LoggingOptions", "SetV2LoggingOptions", s.setV2LoggingOptions)
	rt.add(http.MethodPost, "/v2LoggingLevel", "SetV2LoggingLevel", s.setV2LoggingLevel)
	rt.add(http.MethodGet, "/v2LoggingLevel", "ListV2LoggingLevels", s.listV2LoggingLevels)
	rt.add(http.MethodDelete, "/v2LoggingLevel", "DeleteV2LoggingLevel", s.deleteV2LoggingLevel)
	// Fleet indexing and dynamic thing groups.
	s.addIndexingRoutes(rt)
	s.addDynamicGroupRoutes(rt)
}
