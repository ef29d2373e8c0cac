// Metric alerts an operator acts on (docs/operations.md, "Alerts"): dead-lettered events and failed pushes.
param tags object
param prefix string
param serviceBusNamespaceName string
param nhNamespaceName string
param nhHubName string

@description('Application Insights that receives the app\'s OpenTelemetry metrics (the log alerts below query them).')
param appInsightsName string
@description('Azure region of the log alerts (that of Application Insights).')
param location string = resourceGroup().location

@description('E-mail address for alerts; empty creates the alerts without a notification target.')
param alertEmail string

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource nhNamespace 'Microsoft.NotificationHubs/namespaces@2023-10-01-preview' existing = {
  name: nhNamespaceName
  resource hub 'notificationHubs' existing = {
    name: nhHubName
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${prefix}-ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'push-ops'
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? [] : [
  {
    actionGroupId: actionGroup.id
  }
]

// Any dead-lettered event needs a person: read the reason and replay it (GET /api/deadletters).
resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${prefix}-deadletters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Events are waiting in a dead-letter queue.'
    severity: 2
    enabled: true
    scopes: [
      serviceBus.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadlettered'
          metricName: 'DeadletteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: actions
  }
}

// PNS errors usually mean expired or wrong credentials (runbook: "Expired credentials").
resource pnsErrorAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${prefix}-pns-errors'
  location: 'global'
  tags: tags
  properties: {
    description: 'Notification Hubs reports PNS errors (credentials, payload or PNS outage).'
    severity: 1
    enabled: true
    scopes: [
      nhNamespace::hub.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'pnserror'
          metricName: 'outgoing.allpns.pnserror'
          metricNamespace: 'Microsoft.NotificationHubs/namespaces/notificationHubs'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: actions
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// The app's own OpenTelemetry metrics (docs/operations.md, "Decision ledger, traces and metrics"): NH refusing sends
// for lack of rights (a revoked or rotated key) shows here before any dead letter.
resource nhAuthAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${prefix}-nh-auth-failures'
  location: location
  tags: tags
  properties: {
    description: 'Notification Hubs refused sends with 401/403 (push.nh.sends, cause=auth): runbook "Expired or wrong PNS credentials" and "Notification Hubs key".'
    severity: 1
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "push.nh.sends" and tostring(customDimensions.cause) == "auth" | summarize failures = sum(valueSum)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
    }
  }
}

// Events that reach nobody because they failed or were quarantined: the ledger says who and why.
resource undeliveredAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${prefix}-undelivered-decisions'
  location: location
  tags: tags
  properties: {
    description: 'Decisions failed or quarantined (push.decisions): open the console, search the event, read the reason.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "push.decisions" and tostring(customDimensions.outcome) in ("failed", "quarantined") | summarize undelivered = sum(valueSum)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'undelivered'
          operator: 'GreaterThan'
          threshold: 10
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
    }
  }
}
