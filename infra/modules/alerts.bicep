// Metric alerts an operator acts on (docs/operations.md, "Alerts"): dead-lettered events and failed pushes.
param tags object
param prefix string
param serviceBusNamespaceName string
param nhNamespaceName string
param nhHubName string

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
